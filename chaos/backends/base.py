"""What every backend shares: the typed interface (`Backend`), the shape of `up` (nothing outlives
a failed start), port planning, health probes from outside, and the status row of a service."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path

from chaos.backends.envstore import EnvStore
from chaos.backends.state import ServiceState, StackState
from chaos.backends.status import ServiceStatus
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
#: Seconds a restarted or respawned service gets to become healthy, unless a backend says otherwise.
RESTART_DEADLINE_S = 30.0

Say = Callable[[str], None]


class Backend(ABC):
    """A backend: `check`, `up`, `status`, `down`, and `running`/`restart`/`respawn` for faults."""

    #: The name it is registered under and recorded in a stack's state ("local", "docker").
    name: str = ""

    def __init__(self, say: Say = lambda msg: None) -> None:
        self.say = say

    @abstractmethod
    def check(self, stack: Stack) -> None:
        """Refuse, before anything starts, a stack this backend cannot run (InputErrors)."""

    def up(self, stack: Stack, run_dir: Path) -> StackState:
        """Start every service in dependency order and wait for health; on any failure stop all."""
        self.check(stack)
        self._preflight(stack)
        run_dir.mkdir(parents=True, exist_ok=True)
        state = StackState(name=stack.name, backend=self.name, compose=str(stack.path.resolve()),
                           run_dir=str(run_dir.resolve()), variables=stack.variables)
        state.save()
        try:
            # Restarts need each service's whole environment, which stack.json never holds: kept
            # outside the run directory until `down` (chaos.backends.envstore).
            state.env_store = str(EnvStore.create(state.run_dir).path)
            state.save()
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
        """Checks that need the machine (an engine, images) before anything is recorded; none by default."""
        return None

    @abstractmethod
    def _start(self, stack: Stack, state: StackState, run_dir: Path) -> None:
        """Start the services `up` recorded a state for, saving it as each starts (`up` stops all on failure)."""

    @abstractmethod
    def status(self, state: StackState) -> dict[str, ServiceStatus]:
        """Each service of the state, by name in start order: running and healthy right now (probes bounded)."""

    @abstractmethod
    def down(self, state: StackState) -> list[str]:
        """Stop everything the state records; names of what had to be killed."""

    @abstractmethod
    def running(self, state: StackState, name: str) -> bool:
        """Whether one service's process or container runs now (no health probe)."""

    @abstractmethod
    def restart(self, run_dir: Path, name: str, deadline_s: float = RESTART_DEADLINE_S) -> None:
        """Start a killed service again as it was (the undo of process.kill); nothing if it runs or the stack is down."""

    @abstractmethod
    def respawn(self, run_dir: Path, name: str, env: dict[str, str], deadline_s: float = RESTART_DEADLINE_S,
                basis: str | None = None) -> None:
        """Stop a service and start it again with `env` (a configuration swap or its undo), waiting for health.

        `env` is its own environment as `stack.json` records it (`ServiceState.env`), changed as
        wanted; a masked value stands for the true one in the environment named `basis` (an
        `env_id`; default: the one the service runs with), which also gives what it inherits.
        """


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


def service_status(svc: ServiceState, *, running: bool, state: str, pid: int | None = None,
                   container_name: str | None = None) -> ServiceStatus:
    """A service's status row from its recorded state, probing its health only when it runs."""
    broker = svc.kind == "rabbitmq" and bool(svc.ports.get(rabbitmq.MANAGEMENT_PORT))
    return ServiceStatus(name=svc.name, kind=svc.kind, running=running, state=state,
                         healthy=running and health_probe(svc)(), pool=svc.pool, host=svc.host, port=svc.port,
                         ports=dict(svc.ports), health_url=svc.health_url,
                         management_url=svc.url("/", rabbitmq.MANAGEMENT_PORT) if broker else None, pid=pid,
                         container_id=svc.container_id, container_name=container_name or svc.container_name)
