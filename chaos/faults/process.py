"""Process faults: pause a service (SIGSTOP its process group, or freeze its container), kill it
(SIGKILL; started again, unchanged, when the fault ends) and restart it (a deploy's blip)."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from chaos.faults import register, register_check, register_undo
from chaos.faults.base import Fault, FaultContext, service_named, service_target, stack_state
from chaos.stack import Stack
from chaos.util.durations import Duration
from chaos.util.procs import ProcessRecord, group_members, is_alive, signal_group


class _ProcessFault(Fault):
    service: str = Field(description="the service hit: its whole process group, or its container")

    def resolve(self, stack: Stack, allow_hosts: list[str]) -> list[str]:
        return [service_named(stack, self.service)]

    def _restart_undo(self, ctx: FaultContext) -> dict:
        """The undo of a fault that leaves the service stopped: start it again through its backend."""
        return {"kind": "process.restart", "run_dir": ctx.state.run_dir, "service": self.service,
                "backend": ctx.state.backend}


@register("process.pause")
class Pause(_ProcessFault):
    """The service stops answering but keeps its sockets; resumed on rollback."""

    type: Literal["process.pause"]

    def inject(self, ctx: FaultContext) -> list[int]:
        target = service_target(ctx, self.service)
        if isinstance(target, str):
            engine = ctx.state.engine
            undo: dict[str, Any] = {"kind": "container.unpause", "container": target, "service": self.service,
                                    "engine": engine}
            return [ctx.apply(self, self.service, undo, lambda: _container(target, engine).pause())]
        undo = {"kind": "process.resume", "process": target.model_dump()}
        return [ctx.apply(self, self.service, undo, lambda: signal_group(target, signal.SIGSTOP))]


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


def _container(container_id: str, engine: str | None):
    from chaos.components import containers
    from chaos.errors import InfraError

    found = containers.lookup(container_id, engine)
    if found is None:
        raise InfraError(f"container {container_id[:12]} no longer exists")
    return found


@register_undo("process.resume")
def _resume(undo: dict) -> None:
    signal_group(ProcessRecord.model_validate(undo["process"]), signal.SIGCONT)


@register_undo("container.unpause")
def _unpause(undo: dict) -> None:
    from chaos.components import containers

    container = containers.lookup(undo["container"], undo.get("engine"))
    if container is not None and container.status == "paused":
        container.unpause()


@register_undo("process.restart")
def _restart(undo: dict) -> None:
    from chaos import backends

    backends.get(undo.get("backend", "local")).restart(Path(undo["run_dir"]), undo["service"])


@register_check("process.resume")
def _running(undo: dict) -> str | None:
    import psutil

    record = ProcessRecord.model_validate(undo["process"])
    for pid in group_members(record.pid) if is_alive(record) else []:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_STOPPED:
                return f"{record.name} (pid {pid}) is still paused"
        except psutil.NoSuchProcess:
            continue
    return None


@register_check("container.unpause")
def _unpaused(undo: dict) -> str | None:
    from chaos.components import containers

    container = containers.lookup(undo["container"], undo.get("engine"))
    if container is not None and container.status == "paused":
        return f"container of {undo['service']} ({container.name}) is still paused"
    return None


@register_check("process.restart")
def _restarted(undo: dict) -> str | None:
    from chaos import backends

    state = stack_state(undo["run_dir"])
    if state.status != "up":
        return None  # the stack is gone, and the killed service with it
    if backends.get(state.backend).running(state, undo["service"]):
        return None
    return f"{undo['service']} was killed and is not running again"
