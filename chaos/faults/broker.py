"""Broker faults on RabbitMQ: hold N connections open; lower the vhost connection limit."""

from __future__ import annotations

import threading
from typing import Any, ClassVar, Literal

from pydantic import Field

from chaos.components.rabbitmq import AMQP_PORT, MANAGEMENT_PORT, ManagementClient
from chaos.errors import InfraError
from chaos.faults import register, register_undo
from chaos.faults.base import Fault, FaultContext, Undo, service_named
from chaos.faults.landing import Probe, ReadBack, UnitLanding
from chaos.stack import Stack

#: Seconds one AMQP connect of the saturation fault may take.
CONNECT_TIMEOUT_S = 3.0

# Connections this process holds, by journal entry: closed on rollback. If the process dies,
# the kernel closes them; the management API sweep by name catches anything still listed.
_held: dict[str, list] = {}
_lock = threading.Lock()


class _BrokerFault(Fault):
    service: str = Field("broker", description="the stack's RabbitMQ service")

    def resolve(self, stack: Stack, allow_hosts: list[str]) -> list[str]:
        return [service_named(stack, self.service)]

    def _management(self, ctx: FaultContext) -> str:
        return ctx.state.services[self.service].url(port=MANAGEMENT_PORT)


@register("broker.hold_connections")
class HoldConnections(_BrokerFault):
    """Open and hold `count` AMQP connections (fewer if the broker refuses more): saturation."""

    type: Literal["broker.hold_connections"]
    count: int = Field(ge=1, le=10000, description="AMQP connections to open and hold for the fault's length")
    held_by_process: ClassVar[bool] = True

    def inject(self, ctx: FaultContext) -> list[int]:
        svc = ctx.state.services[self.service]
        host, port = svc.host, svc.ports[AMQP_PORT]
        name = f"chaosgate-hold-{ctx.run_id}-{len(_held)}"
        undo = CloseConnections(management=self._management(ctx), name=name)

        def hold() -> None:
            import pika  # lazily: validating an experiment needs no AMQP client
            import pika.exceptions

            conns: list[Any] = []  # pika connections (pika ships no type information)
            with _lock:
                _held[name] = conns
            params = pika.ConnectionParameters(host=host, port=port, heartbeat=0,
                                               socket_timeout=CONNECT_TIMEOUT_S, stack_timeout=CONNECT_TIMEOUT_S * 2,
                                               blocked_connection_timeout=CONNECT_TIMEOUT_S, connection_attempts=1,
                                               client_properties={"connection_name": name})
            for _ in range(self.count):
                try:
                    conns.append(pika.BlockingConnection(params))
                except (pika.exceptions.AMQPError, OSError):
                    break  # the broker refuses more: it is saturated, which is the point

        return [ctx.apply(self, self.service, undo, hold)]

    def probe(self, ctx: FaultContext) -> Probe:
        return _Held(self.service, self.count)


@register("broker.connection_limit")
class ConnectionLimit(_BrokerFault):
    """Lower the vhost's max-connections; the previous limit is recorded and restored."""

    type: Literal["broker.connection_limit"]
    limit: int = Field(ge=0, description="the vhost's max-connections: connections past it are refused (0: every "
                                         "new one); open ones stay")
    vhost: str = Field("/", description="the RabbitMQ virtual host whose limit is lowered")

    def inject(self, ctx: FaultContext) -> list[int]:
        client = ManagementClient(self._management(ctx))
        previous = client.connection_limit(self.vhost)
        undo = RestoreLimit(management=client.url, vhost=self.vhost, previous=previous)
        return [ctx.apply(self, self.service, undo, lambda: client.set_connection_limit(self.limit, self.vhost))]

    def probe(self, ctx: FaultContext) -> Probe:
        client = ManagementClient(self._management(ctx))

        def limited(service: str) -> tuple[bool | None, str]:
            now = client.connection_limit(self.vhost)
            if now != self.limit:
                return False, f"the limit of {self.vhost!r} reads back {now}, not {self.limit}"
            under = sum(1 for c in client.connections() if c.get("vhost") == self.vhost)
            return True, f"the limit of {self.vhost!r} reads back {now}; {under} connections under it"

        return ReadBack([self.service], limited)


class _Held(Probe):
    """How many of the asked-for connections were really opened and held (the broker may refuse some)."""

    def __init__(self, service: str, wanted: int):
        self.service, self.wanted = service, wanted
        self.name = ""

    def injected(self, undos: list[Undo]) -> None:
        self.name = next((u.name for u in undos if isinstance(u, CloseConnections)), "")

    def finish(self, now: float) -> list[UnitLanding]:
        with _lock:
            conns = list(_held.get(self.name, []))
        open_ = sum(1 for c in conns if getattr(c, "is_open", False))
        refused = "" if len(conns) == self.wanted else f"; the broker refused the rest after {len(conns)}"
        return [UnitLanding(target=self.service, landed=open_ > 0,
                            evidence=f"{open_} of {self.wanted} connections held open{refused}")]


@register_undo
class CloseConnections(Undo):
    """Close the connections a `broker.hold_connections` holds: this process's sockets, then any the
    broker still lists under the fault's connection name."""

    kind: Literal["broker.close_connections"] = "broker.close_connections"
    management: str = Field(description="the broker's management API")
    name: str = Field(description="the connection name every held connection carries")

    def rollback(self) -> None:
        with _lock:
            conns = _held.pop(self.name, [])
        for conn in conns:
            try:
                conn.close()
            except Exception:  # noqa: BLE001 - already closed is closed
                pass
        client = ManagementClient(self.management)
        try:
            listed = client.connections()
        except InfraError:
            if conns:
                return  # closed our own sockets; the broker being gone means nothing is held there
            raise
        for c in listed:
            if c.get("client_properties", {}).get("connection_name") == self.name:
                client.close_connection(c["name"])

    def remaining(self) -> str | None:
        held = [c for c in ManagementClient(self.management).connections()
                if c.get("client_properties", {}).get("connection_name") == self.name]
        return f"{len(held)} connections named {self.name} still open" if held else None


@register_undo
class RestoreLimit(Undo):
    """Put a vhost's max-connections back to what it was (None: no limit)."""

    kind: Literal["broker.restore_limit"] = "broker.restore_limit"
    management: str
    vhost: str = "/"
    previous: int | None

    def rollback(self) -> None:
        ManagementClient(self.management).set_connection_limit(self.previous, self.vhost)

    def remaining(self) -> str | None:
        now = ManagementClient(self.management).connection_limit(self.vhost)
        return None if now == self.previous else f"connection limit is {now}, was {self.previous}"
