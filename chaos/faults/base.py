"""What every fault is: a typed spec that resolves its targets, and injects through the journal."""

from __future__ import annotations

import fnmatch
import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field

from chaos.errors import ChaosgateError
from chaos.faults.landing import NoEvidence, Probe
from chaos.stack import Stack
from chaos.util.durations import Duration

if TYPE_CHECKING:  # only at injection time: validating an experiment never loads them
    from chaos.backends.state import StackState
    from chaos.components.toxiproxy import ToxiproxyClient
    from chaos.run.journal import Journal
    from chaos.util.procs import ProcessRecord


class FaultError(ChaosgateError):
    """A fault's targets cannot be resolved (shown at the fault's line), or are gone when it is injected."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


class Undo(BaseModel):
    """A journal record that undoes one fault from the record alone, so `chaosgate rollback` can run
    it in another process after a SIGKILL. A family subclasses it per kind, with a `kind` literal."""

    # Reading is lenient (a newer chaosgate may record more), writing is exact; records never change.
    model_config = ConfigDict(extra="ignore", frozen=True)
    kind: str

    def rollback(self) -> None:
        """Undo the fault (idempotent: undoing what is already gone is fine)."""
        raise NotImplementedError

    def remaining(self) -> str | None:
        """What of the fault is still in place, or None when it is gone (re-read from the component)."""
        return None


class UnknownUndo(Undo):
    """A record of a kind this chaosgate does not know (written by another version): it cannot be undone here."""

    def rollback(self) -> None:
        raise FaultError(f"no undo for records of kind {self.kind!r} in this chaosgate; "
                         "roll it back with the version that injected it")

    def remaining(self) -> str | None:
        return f"cannot verify records of kind {self.kind!r}"


class Fault(BaseModel):
    """Fields every fault has; a fault family adds its own and a `type` literal."""

    model_config = ConfigDict(extra="forbid")
    type: str
    start: Duration = Field(0.0, description="offset into the fault phase")
    duration: Duration | None = Field(None, description="how long it stays; default the rest of the fault phase")
    component: list[str] | None = Field(
        None, description="services that stand for the faulted component in the blast radius "
                          "(default: what the fault touches; a release swap names the released component)")

    family: ClassVar[str] = ""
    #: The fault lives in the injecting process (held sockets): it ends when that process does.
    held_by_process: ClassVar[bool] = False

    def resolve(self, stack: Stack, allow_hosts: list[str]) -> list[str]:
        """The targets this fault will touch in `stack`; FaultError when there are none."""
        raise NotImplementedError

    def unsupported(self, backend: str) -> str | None:
        """Why this fault cannot act on `backend` here, or None (asked before anything starts)."""
        return None

    def inject(self, ctx: FaultContext) -> list[int]:
        """Inject on every target; journal ids of what was recorded."""
        raise NotImplementedError

    def probe(self, ctx: FaultContext) -> Probe:
        """What watches the targets while the fault is in place, to show it landed (made just before
        injecting, so counters start from before the fault)."""
        return NoEvidence(self.resolve(ctx.stack, ctx.allow_hosts))

    def warnings(self) -> list[tuple[str, str]]:
        """(field, message) for a setting that is valid but likely not what the author means."""
        return []


@dataclass
class FaultContext:
    """What a fault needs at injection time: the started stack and the run's journal."""

    run_id: str
    stack: Stack
    state: StackState
    journal: Journal
    allow_hosts: list[str] = field(default_factory=list)

    @property
    def toxiproxy(self) -> ToxiproxyClient:
        from chaos.components.toxiproxy import ToxiproxyClient

        return ToxiproxyClient(self.state.toxiproxy_url or "")

    def apply(self, fault: Fault, target: str, undo: Undo, act: Callable[[], object]) -> int:
        """Record `undo` durably, then `act` (what it returns is not used); if acting fails, undo at
        once and re-raise."""
        entry = self.journal.intend(fault.type, target, undo)
        try:
            act()
        except BaseException:
            try:
                undo.rollback()
                self.journal.mark(entry, "rolled_back", "injection failed")
            except Exception as exc:  # noqa: BLE001 - the original error matters more; the entry stays outstanding
                self.journal.mark(entry, "rollback_failed", str(exc))
            raise
        self.journal.mark(entry, "injected")
        return entry


def match_links(stack: Stack, pattern: str) -> list[str]:
    """Link names matching a pattern ('run-pool -> broker', '*-pool->telemetry-collector')."""
    wanted = pattern.replace(" ", "")
    names = [stack.link_name(service, link) for service, link in stack.links()]
    return [n for n in names if fnmatch.fnmatchcase(n, wanted)]


def service_named(stack: Stack, name: str) -> str:
    """`name` if the stack has that service, else a FaultError listing the services."""
    if name not in stack.services:
        raise FaultError(f"no service {name!r} in the stack (services: {', '.join(stack.services)})", "service")
    return name


def service_target(ctx: FaultContext, service: str) -> ProcessRecord | str:
    """The service's process group (local backend) or container id (docker backend)."""
    svc = ctx.state.services[service]
    if svc.container_id:
        return svc.container_id
    if svc.process is None:
        raise FaultError(f"service {service!r} has neither a process nor a container", "service")
    return svc.process


def check_host(url: str, allow_hosts: list[str], field_name: str) -> None:
    """Refuse a URL outside loopback unless the experiment names its host in allow_hosts."""
    host = urlsplit(url).hostname or ""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback and host not in allow_hosts:
        raise FaultError(f"refused: {host!r} is not on loopback nor part of the stack chaosgate started; "
                         f"name it in allow_hosts to allow it", field_name)


def stack_state(run_dir: str) -> StackState:
    """The stack state a fault's undo names (loaded at use: validation never needs it)."""
    from chaos.backends.state import STATE_FILE, StackState
    from chaos.errors import InfraError

    if not (Path(run_dir) / STATE_FILE).exists():
        # The stack's directory is gone (a wiped workspace): so is the stack the fault lived in.
        raise InfraError(f"the stack of {run_dir} is gone (no {STATE_FILE})")
    return StackState.load(run_dir)
