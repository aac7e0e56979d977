"""Broker faults on RabbitMQ: hold N connections open; lower the vhost connection limit."""

from __future__ import annotations

import threading
from typing import Any, ClassVar, Literal

from pydantic import Field

from chaos.components.rabbitmq import AMQP_PORT, MANAGEMENT_PORT, ManagementClient
from chaos.errors import InfraError
from chaos.faults import register, register_check, register_undo
from chaos.faults.base import Fault, FaultContext, service_named
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
    count: int = Field(ge=1, le=10000)
    held_by_process: ClassVar[bool] = True

    def inject(self, ctx: FaultContext) -> list[int]:
        svc = ctx.state.services[self.service]
        host, port = svc.host, svc.ports[AMQP_PORT]
        name = f"chaosgate-hold-{ctx.run_id}-{len(_held)}"
        undo = {"kind": "broker.close_connections", "management": self._management(ctx), "name": name}

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


@register("broker.connection_limit")
class ConnectionLimit(_BrokerFault):
    """Lower the vhost's max-connections; the previous limit is recorded and restored."""

    type: Literal["broker.connection_limit"]
    limit: int = Field(ge=0)
    vhost: str = "/"

    def inject(self, ctx: FaultContext) -> list[int]:
        client = ManagementClient(self._management(ctx))
        previous = client.connection_limit(self.vhost)
        undo = {"kind": "broker.restore_limit", "management": client.url, "vhost": self.vhost, "previous": previous}
        return [ctx.apply(self, self.service, undo, lambda: client.set_connection_limit(self.limit, self.vhost))]


@register_undo("broker.close_connections")
def _close(undo: dict) -> None:
    with _lock:
        conns = _held.pop(undo["name"], [])
    for conn in conns:
        try:
            conn.close()
        except Exception:  # noqa: BLE001 - already closed is closed
            pass
    client = ManagementClient(undo["management"])
    try:
        listed = client.connections()
    except InfraError:
        if conns:
            return  # closed our own sockets; the broker being gone means nothing is held there
        raise
    for c in listed:
        if c.get("client_properties", {}).get("connection_name") == undo["name"]:
            client.close_connection(c["name"])


@register_undo("broker.restore_limit")
def _restore(undo: dict) -> None:
    ManagementClient(undo["management"]).set_connection_limit(undo["previous"], undo["vhost"])


@register_check("broker.close_connections")
def _closed(undo: dict) -> str | None:
    held = [c for c in ManagementClient(undo["management"]).connections()
            if c.get("client_properties", {}).get("connection_name") == undo["name"]]
    return f"{len(held)} connections named {undo['name']} still open" if held else None


@register_check("broker.restore_limit")
def _restored(undo: dict) -> str | None:
    now = ManagementClient(undo["management"]).connection_limit(undo["vhost"])
    return None if now == undo["previous"] else f"connection limit is {now}, was {undo['previous']}"
