"""Capacity fill: occupy a pool's slots through its declared hook, as a tenant whose work never ends.

The pool service declares `x-chaosgate.capacity: {path: …}` (the contract is in
chaos.stack.model.CapacityHook). Holds are tagged with an owner name chosen *before* injection,
so the journal's undo can find and release them even if chaosgate died before learning their id;
their TTL ends them even if nobody rolls back.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from chaos.errors import InfraError
from chaos.faults import register, register_undo
from chaos.faults.base import Fault, FaultContext, FaultError, Undo, check_host, service_named
from chaos.faults.landing import Probe, UnitLanding
from chaos.stack import Stack
from chaos.util.durations import Duration

#: Seconds one call to a pool's hook may take.
REQUEST_TIMEOUT_S = 5.0


@register("capacity.fill")
class Fill(Fault):
    """Hold `slots` slots of a pool (free ones now, more as they free up) until rollback."""

    type: Literal["capacity.fill"]
    service: str = Field(description="the pool service; it must declare x-chaosgate.capacity")
    slots: int = Field(ge=1, le=100_000, description="how many slots to hold")
    ttl: Duration = Field(600.0, gt=0, le=3600, description="the pool ends the hold by itself after this "
                                                           "(a safety net if chaosgate dies)")

    def resolve(self, stack: Stack, allow_hosts: list[str]) -> list[str]:
        service_named(stack, self.service)
        if stack.services[self.service].x_chaosgate.capacity is None:
            pools = [n for n, s in stack.services.items() if s.x_chaosgate.capacity]
            raise FaultError(f"service {self.service!r} declares no x-chaosgate.capacity hook "
                             f"(services that do: {', '.join(pools) or 'none'})", "service")
        return [self.service]

    def inject(self, ctx: FaultContext) -> list[int]:
        hook = ctx.stack.services[self.service].x_chaosgate.capacity
        assert hook is not None  # resolve() checked
        svc = ctx.state.services[self.service]
        url = svc.url(hook.path)
        check_host(url, [*ctx.allow_hosts, svc.host], "service")  # the stack's own address is the stack
        owner = f"chaosgate-{ctx.run_id}-{len(ctx.journal.entries())}"
        undo = ReleaseSlots(url=url, owner=owner)
        body = {"slots": self.slots, "ttl_s": self.ttl, "owner": owner}
        return [ctx.apply(self, self.service, undo, lambda: _call("POST", url, body, ok=(201,)))]


    def probe(self, ctx: FaultContext) -> Probe:
        return _SlotsHeld(self.service, self.slots)


class _SlotsHeld(Probe):
    """The pool says it holds slots for the fault's owner (read back through the hook)."""

    def __init__(self, service: str, wanted: int):
        self.service, self.wanted = service, wanted
        self.release: ReleaseSlots | None = None
        self.most = 0
        self.problem = ""
        self._last = 0.0

    def injected(self, undos: list[Undo]) -> None:
        self.release = next((u for u in undos if isinstance(u, ReleaseSlots)), None)

    def sample(self, now: float) -> None:
        if self.release is None or now - self._last < 1.0:
            return
        self._last = now
        try:
            self.most = max(self.most, sum(int(h.get("held", 0)) for h in self.release.holds()))
        except InfraError as exc:
            self.problem = f"the pool's holds could not be read: {exc}"

    def finish(self, now: float) -> list[UnitLanding]:
        self._last = 0.0
        self.sample(now)
        if self.most > 0:
            return [UnitLanding(target=self.service, landed=True,
                                evidence=f"the pool held {self.most} of the {self.wanted} slots asked for")]
        return [UnitLanding(target=self.service, landed=None if self.problem else False,
                            evidence=self.problem or "the pool never held a slot for the fault")]


def _call(method: str, url: str, body: dict | None = None, ok: tuple[int, ...] = (200,)) -> dict:
    import requests

    from chaos.util.wire import fetch, json_body

    status, content = fetch(requests, method, url, REQUEST_TIMEOUT_S, json=body)
    if status not in ok:
        raise InfraError(f"capacity hook {method} {url} answered {status}: {content[:200]!r}")
    answer = json_body(content, f"capacity hook {method} {url}")
    if not isinstance(answer, dict):
        raise InfraError(f"capacity hook {method} {url} answered {answer!r}, not a JSON object")
    return answer


@register_undo
class ReleaseSlots(Undo):
    """Release every hold of the pool tagged with the fault's owner name."""

    kind: Literal["capacity.release"] = "capacity.release"
    url: str = Field(description="the pool's capacity hook")
    owner: str

    def holds(self) -> list[dict]:
        """The pool's holds of this owner, as its hook lists them."""
        return [h for h in _call("GET", self.url).get("holds", []) if h.get("owner") == self.owner]

    def rollback(self) -> None:
        for hold in self.holds():
            _call("DELETE", f"{self.url}/{hold['id']}", ok=(200, 404))

    def remaining(self) -> str | None:
        held = self.holds()
        return f"{sum(h['held'] for h in held)} slots still held at {self.url}" if held else None
