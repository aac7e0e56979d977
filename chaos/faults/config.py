"""Configuration swaps: restart services with changed variables (how a release is deployed),
and restart them with the original ones on rollback (how it is rolled back).

The journal lives in the run directory, under `reports/`: the undo records the service's own
environment as `stack.json` does (redacted, never what it inherits) and the name of the whole
one it ran with (`env_id`, kept outside the run directory: chaos.backends.envstore), which the
rollback starts it with again."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field, field_serializer

from chaos.faults import register, register_undo
from chaos.faults.base import Fault, FaultContext, FaultError, Undo, service_named, stack_state
from chaos.faults.landing import Probe, ReadBack
from chaos.stack import Stack

if TYPE_CHECKING:
    from chaos.backends.state import StackState


@register("config.swap")
class Swap(Fault):
    """Restart `services` with `set` applied to their environment, e.g. a candidate release."""

    type: Literal["config.swap"]
    services: list[str] = Field(min_length=1, description="the stack's own services to restart with the change "
                                "(not one marked x-chaosgate.builtin)")
    set: dict[str, str] = Field(min_length=1, description="environment variables to change")

    def resolve(self, stack: Stack, allow_hosts: list[str]) -> list[str]:
        for name in self.services:
            service_named(stack, name)
            if stack.services[name].x_chaosgate.builtin:
                raise FaultError(f"service {name!r} is a builtin component; only the stack's own services "
                                 "can be reconfigured", "services")
        return list(self.services)

    def inject(self, ctx: FaultContext) -> list[int]:
        from chaos import backends

        respawn = backends.get(ctx.state.backend).respawn
        ids = []
        for name in self.services:
            running = stack_state(ctx.state.run_dir).services[name]  # the file: an earlier restart is there
            original = dict(running.env or {})
            undo = RestoreConfig(run_dir=ctx.state.run_dir, service=name, env=original, env_id=running.env_id)
            changed = {**original, **self.set}
            ids.append(ctx.apply(self, name, undo, functools.partial(respawn, Path(ctx.state.run_dir), name, changed)))
            ctx.state.services[name] = stack_state(ctx.state.run_dir).services[name]
        return ids

    def probe(self, ctx: FaultContext) -> Probe:
        from chaos import backends
        from chaos.backends import envstore

        def swapped(service: str) -> tuple[bool | None, str]:
            state = stack_state(ctx.state.run_dir)
            kept = envstore.current(state, service)
            if kept is not None:  # the true values it runs with
                wrong = sorted(k for k, v in self.set.items() if kept.own.get(k) != v)
            else:  # only the recorded ones: a masked value is compared masked
                env = state.services[service].env or {}
                wrong = sorted(k for k, v in self.set.items() if env.get(k) != envstore.redact_value(k, v))
            if wrong:
                return False, f"runs without the new {', '.join(wrong)}"
            if not backends.get(state.backend).running(state, service):
                return False, "the new process is not running"
            shown = envstore.redact(self.set)  # evidence goes to result.json
            return True, "the new process runs with " + ", ".join(f"{k}={v}" for k, v in sorted(shown.items()))

        return ReadBack(list(self.services), swapped)


@register_undo
class RestoreConfig(Undo):
    """Restart a service with the environment it had before the swap (unless it already has it)."""

    kind: Literal["config.restore"] = "config.restore"
    run_dir: str
    service: str
    env: dict[str, str] = Field(description="its own environment before the swap, as stack.json records it "
                                            "(secret-looking values masked)")
    env_id: str | None = Field(None, description="the name of its whole environment before the swap, in the "
                                                 "stack's env_store")

    @field_serializer("env")
    def _redacted_env(self, env: dict[str, str]) -> dict[str, str]:
        from chaos.backends.envstore import redact

        return redact(env)  # the journal is in the run directory: never a secret

    def _swapped(self) -> StackState | None:
        state = stack_state(self.run_dir)
        if state.status not in ("up", "starting"):
            return None
        svc = state.services[self.service]
        if self.env_id and svc.env_id:  # names of whole environments: a change of a masked value counts
            return state if svc.env_id != self.env_id else None
        return state if svc.env != self.env else None

    def rollback(self) -> None:
        from chaos import backends

        if (state := self._swapped()) is not None:
            backends.get(state.backend).respawn(Path(self.run_dir), self.service, self.env, basis=self.env_id)

    def remaining(self) -> str | None:
        return f"{self.service} still runs the swapped configuration" if self._swapped() else None
