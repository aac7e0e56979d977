"""Process faults on the local backend: pause (SIGSTOP the service's group) and kill (SIGKILL,
restarted when the fault ends)."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Literal

from pydantic import Field

from chaos.faults import register, register_check, register_undo
from chaos.faults.base import Fault, FaultContext, FaultError, service_named
import psutil

from chaos.procs import ProcessRecord, group_members, is_alive, signal_group
from chaos.stack import Stack


class _ProcessFault(Fault):
    service: str = Field(description="the service whose whole process group is hit")

    def resolve(self, stack: Stack, allow_hosts: list[str]) -> list[str]:
        return [service_named(stack, self.service)]

    def _record(self, ctx: FaultContext) -> ProcessRecord:
        record = ctx.state.services[self.service].process
        if record is None:
            raise FaultError(f"service {self.service!r} has no process (is the backend local?)", "service")
        return record


@register("process.pause")
class Pause(_ProcessFault):
    """SIGSTOP: the service stops answering but keeps its sockets; SIGCONT on rollback."""

    type: Literal["process.pause"]

    def inject(self, ctx: FaultContext) -> list[int]:
        record = self._record(ctx)
        undo = {"kind": "process.resume", "process": record.model_dump()}
        return [ctx.apply(self, self.service, undo, lambda: signal_group(record, signal.SIGSTOP))]


@register("process.kill")
class Kill(_ProcessFault):
    """SIGKILL the service's group; rollback starts it again with its original command."""

    type: Literal["process.kill"]

    def inject(self, ctx: FaultContext) -> list[int]:
        record = self._record(ctx)
        undo = {"kind": "process.restart", "run_dir": ctx.state.run_dir, "service": self.service,
                "process": record.model_dump()}
        return [ctx.apply(self, self.service, undo, lambda: signal_group(record, signal.SIGKILL))]


@register_undo("process.resume")
def _resume(undo: dict) -> None:
    signal_group(ProcessRecord.model_validate(undo["process"]), signal.SIGCONT)


@register_undo("process.restart")
def _restart(undo: dict) -> None:
    from chaos.backends.local import restart_service

    restart_service(Path(undo["run_dir"]), undo["service"], ProcessRecord.model_validate(undo["process"]))


@register_check("process.resume")
def _running(undo: dict) -> str | None:
    record = ProcessRecord.model_validate(undo["process"])
    for pid in group_members(record.pid) if is_alive(record) else []:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_STOPPED:
                return f"{record.name} (pid {pid}) is still paused"
        except psutil.NoSuchProcess:
            continue
    return None
