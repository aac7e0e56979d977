"""What every backend shares: the shape of `up` (nothing outlives a failed start), port planning,
health probes from outside, and the status row of a service."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from chaos.backends.state import ServiceState, StackState
from chaos.components import builtin_ports, rabbitmq
from chaos.stack import Stack
from chaos.stack.model import Service
from chaos.util.health import http_ok, tcp_ok
from chaos.util.ports import free_port

#: Seconds a service gets to stop after SIGTERM before it is killed.
STOP_GRACE_S = 10.0
#: RabbitMQ flushes to disk on shutdown; give it longer.
BROKER_STOP_GRACE_S = 30.0
#: A broker's health deadline when the compose file sets none (its API took ~11 s here).
BROKER_START_S = 90.0

Say = Callable[[str], None]


class Backend:
    """A backend: `check`, `up`, `status`, `down`, and `restart`/`respawn` for faults."""

    name = ""

    def __init__(self, say: Say = lambda msg: None):
        self.say = say

    def check(self, stack: Stack) -> None:
        """Refuse, before anything starts, a stack this backend cannot run (InputErrors)."""
        raise NotImplementedError

    def up(self, stack: Stack, run_dir: Path) -> StackState:
        """Start every service in dependency order and wait for health; on any failure stop all."""
        self.check(stack)
        self._preflight(stack)
        run_dir.mkdir(parents=True, exist_ok=True)
        state = StackState(name=stack.name, backend=self.name, compose=str(stack.path.resolve()),
                           run_dir=str(run_dir.resolve()), variables=stack.variables)
        state.save()
        try:
            self._start(stack, state, run_dir)
            state.status = "up"
            state.save()
            return state
        except BaseException:
            # Ctrl-C, SIGTERM or a failed service: nothing started may outlive this call.
            state.status = "failed"
            state.save()
            self.down(state)
            state.status = "failed"
            state.save()
            raise

    def _preflight(self, stack: Stack) -> None:
        """Checks that need the machine (an engine, images) before anything is recorded."""

    def _start(self, stack: Stack, state: StackState, run_dir: Path) -> None:
        raise NotImplementedError

    def down(self, state: StackState) -> list[str]:
        """Stop everything the state records; names of what had to be killed."""
        raise NotImplementedError

    def running(self, state: StackState, name: str) -> bool:
        """Whether one service's process or container runs now (no health probe)."""
        raise NotImplementedError


def plan_service(stack: Stack, name: str, plain_kind: str) -> ServiceState:
    """A service's state with a free 127.0.0.1 port for each of its ports (a builtin gets all its own)."""
    svc = stack.services[name]
    ports = list(dict.fromkeys([*svc.container_ports(), *builtin_ports(svc.x_chaosgate.builtin)]))
    kind = "rabbitmq" if svc.x_chaosgate.builtin == "rabbitmq" else plain_kind
    return ServiceState(name=name, kind=kind, pool=svc.x_chaosgate.pool, ports={p: free_port() for p in ports})


def health_url(svc: Service, svc_state: ServiceState) -> str | None:
    """Where a service's health is read from outside, if over HTTP."""
    if svc_state.kind == "rabbitmq":
        return svc_state.url("/api/overview", rabbitmq.MANAGEMENT_PORT)
    health = svc.x_chaosgate.health
    if health and health.http:
        return svc_state.url("/" + health.http.lstrip("/"))
    return None


def health_probe(svc: ServiceState) -> Callable[[], bool]:
    """A bounded check that the service answers: its health URL, else a TCP connect."""
    if svc.kind == "rabbitmq":
        amqp = svc.ports[rabbitmq.AMQP_PORT]
        return lambda: http_ok(svc.health_url or "", auth=("guest", "guest")) and tcp_ok(amqp, svc.host)
    if svc.health_url:
        return lambda: http_ok(svc.health_url or "")
    return lambda: tcp_ok(svc.port or 0, svc.host)


def health_deadline(svc: Service, default_s: float) -> float:
    """How long a service may take to become healthy: compose's healthcheck timings, else default."""
    hc = svc.healthcheck
    if hc is None:
        return default_s
    return hc.start_period + hc.interval * max(hc.retries, 1) + hc.timeout


def probe_interval(svc: Service) -> float:
    """Seconds between health probes while waiting (compose's start_interval, at most 1 s)."""
    interval = (svc.healthcheck.start_interval or 0.25) if svc.healthcheck else 0.25
    return min(interval, 1.0)
