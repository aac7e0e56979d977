"""Process faults: pause a service (SIGSTOP its process group, or freeze its container), kill it
(SIGKILL; started again, unchanged, when the fault ends) and restart it (a deploy's blip)."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Literal

from pydantic import Field

from chaos.faults import register, register_undo
from chaos.faults.base import Fault, FaultContext, Undo, service_named, service_target, stack_state
from chaos.faults.landing import Probe, ReadBack
from chaos.stack import Stack
from chaos.util.durations import Duration
from chaos.util.procs import ProcessRecord, group_members, is_alive, signal_group


class _ProcessFault(Fault):
    service: str = Field(description="the service hit: its whole process group, or its container")

    def resolve(self, stack: Stack, allow_hosts: list[str]) -> list[str]:
        return [service_named(stack, self.service)]

    def _state_of(self, ctx: FaultContext) -> tuple[str, str]:
        """What the service is doing now, read back: a word ("running", "paused", "stopped", "gone")
        and the identity of what runs (pid and start time, or container id and start time)."""
        state = stack_state(ctx.state.run_dir)
        svc = state.services[self.service]
        if svc.container_id:
            found = _lookup(svc.container_id, state.engine)
            if found is None:
                return "gone", ""
            return found.status, f"{found.id[:12]} started {found.attrs.get('State', {}).get('StartedAt', '?')}"
        if svc.process is None or not is_alive(svc.process):
            return "gone", ""
        import psutil

        stopped = False
        for pid in group_members(svc.process.pid):
            try:
                stopped = stopped or psutil.Process(pid).status() == psutil.STATUS_STOPPED
            except psutil.NoSuchProcess:
                continue
        return ("paused" if stopped else "running"), f"pid {svc.process.pid} started {svc.process.create_time:.2f}"

    def _restart_undo(self, ctx: FaultContext) -> StartAgain:
        """The undo of a fault that leaves the service stopped: start it again through its backend."""
        return StartAgain(run_dir=ctx.state.run_dir, service=self.service, backend=ctx.state.backend)


@register("process.pause")
class Pause(_ProcessFault):
    """The service stops answering but keeps its sockets; resumed on rollback."""

    type: Literal["process.pause"]

    def inject(self, ctx: FaultContext) -> list[int]:
        target = service_target(ctx, self.service)
        if isinstance(target, str):
            engine = ctx.state.engine
            unpause = Unpause(container=target, service=self.service, engine=engine)
            return [ctx.apply(self, self.service, unpause, lambda: _container(target, engine).pause())]
        return [ctx.apply(self, self.service, Resume(process=target), lambda: signal_group(target, signal.SIGSTOP))]

    def probe(self, ctx: FaultContext) -> Probe:
        def paused(service: str) -> tuple[bool | None, str]:
            word, _ = self._state_of(ctx)
            return word == "paused", f"read back {word}"

        return ReadBack([self.service], paused)


@register("process.kill")
class Kill(_ProcessFault):
    """SIGKILL the service; rollback starts it again as it was and waits until it is healthy."""

    type: Literal["process.kill"]

    def inject(self, ctx: FaultContext) -> list[int]:
        target = service_target(ctx, self.service)
        undo = self._restart_undo(ctx)
        if isinstance(target, str):
            return [ctx.apply(self, self.service, undo, lambda: _container(target, ctx.state.engine).kill("SIGKILL"))]
        return [ctx.apply(self, self.service, undo, lambda: signal_group(target, signal.SIGKILL))]

    def probe(self, ctx: FaultContext) -> Probe:
        def down(service: str) -> tuple[bool | None, str]:
            word, _ = self._state_of(ctx)
            return word not in ("running", "paused", "restarting"), f"read back {word}"

        return ReadBack([self.service], down)


@register("process.restart")
class Restart(_ProcessFault):
    """Stop the service gracefully (SIGTERM, SIGKILL after `grace`) and start it again at once, as a
    rolling deploy does: the fault is the gap. Rollback only makes sure it runs again."""

    type: Literal["process.restart"]
    grace: Duration = Field(10.0, ge=0, le=120, description="seconds between SIGTERM and SIGKILL")

    def inject(self, ctx: FaultContext) -> list[int]:
        from chaos import backends
        from chaos.util.procs import stop_group

        target = service_target(ctx, self.service)
        undo = self._restart_undo(ctx)

        def bounce() -> None:
            if isinstance(target, str):
                _container(target, ctx.state.engine).stop(timeout=int(self.grace))
            else:
                stop_group(target, self.grace)
            backends.get(ctx.state.backend).restart(Path(ctx.state.run_dir), self.service)

        return [ctx.apply(self, self.service, undo, bounce)]

    def probe(self, ctx: FaultContext) -> Probe:
        _, before = self._state_of(ctx)

        def replaced(service: str) -> tuple[bool | None, str]:
            word, now = self._state_of(ctx)
            if now and now != before:
                return True, f"a new process runs ({now}; before: {before})"
            return False, f"read back {word}, still {before or 'nothing'}"

        return ReadBack([self.service], replaced)


def _lookup(container_id: str, engine: str | None):
    from chaos.components import containers

    return containers.lookup(container_id, engine)


def _container(container_id: str, engine: str | None):
    from chaos.errors import InfraError

    found = _lookup(container_id, engine)
    if found is None:
        raise InfraError(f"container {container_id[:12]} no longer exists")
    return found


@register_undo
class Resume(Undo):
    """SIGCONT a paused process group (if its leader is still the process that was paused)."""

    kind: Literal["process.resume"] = "process.resume"
    process: ProcessRecord

    def rollback(self) -> None:
        signal_group(self.process, signal.SIGCONT)

    def remaining(self) -> str | None:
        import psutil

        record = self.process
        for pid in group_members(record.pid) if is_alive(record) else []:
            try:
                if psutil.Process(pid).status() == psutil.STATUS_STOPPED:
                    return f"{record.name} (pid {pid}) is still paused"
            except psutil.NoSuchProcess:
                continue
        return None


@register_undo
class Unpause(Undo):
    """Unpause a frozen container (one that is gone needs nothing)."""

    kind: Literal["container.unpause"] = "container.unpause"
    container: str
    service: str = ""
    engine: str | None = Field(None, description="the Docker engine (DOCKER_HOST) it runs on; None: the local one")

    def rollback(self) -> None:
        from chaos.components import containers

        found = containers.lookup(self.container, self.engine)
        if found is not None and found.status == "paused":
            found.unpause()

    def remaining(self) -> str | None:
        from chaos.components import containers

        found = containers.lookup(self.container, self.engine)
        if found is not None and found.status == "paused":
            return f"container of {self.service} ({found.name}) is still paused"
        return None


@register_undo
class StartAgain(Undo):
    """Start a killed service again through its stack's backend, and wait until it is healthy."""

    kind: Literal["process.restart"] = "process.restart"
    run_dir: str
    service: str
    backend: str = "local"  # records of chaosgate 0.1.0 before docker stacks carried no backend

    def rollback(self) -> None:
        from chaos import backends

        stack_state(self.run_dir)  # an InfraError when the stack is gone with its directory
        backends.get(self.backend).restart(Path(self.run_dir), self.service)

    def remaining(self) -> str | None:
        from chaos import backends

        state = stack_state(self.run_dir)
        if state.status != "up":
            return None  # the stack is gone, and the killed service with it
        if backends.get(state.backend).running(state, self.service):
            return None
        return f"{self.service} was killed and is not running again"
