"""Did a fault take effect? Evidence observed while it was in place, per affected unit.

A fault that is recorded and "injected" may still change nothing: a link no traffic crosses, a
hang whose server closes the connection after answering, a saturation the broker refused. A run
that says "contained" for such a fault is the most dangerous verdict chaosgate can give, so every
fault type watches its targets while it is in place (`Fault.probe`) and says, per target, what it
saw. A fault landed when at least one target was observed affected; when none was, or nothing
could be observed, the run is INCONCLUSIVE and no gate can pass on it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from chaos.faults.base import Undo


class HeldCalls(BaseModel):
    """What callers did while their dependency hung, from the connections opened during the hang:
    those they gave up on (closed while it was in place) and those still open when it ended."""

    window_s: float = Field(description="seconds the hang was watched")
    gave_up: int = Field(description="connections the caller closed while the hang was in place")
    gave_up_after_s: float | None = Field(None, description="median seconds those were held before the caller closed them")
    gave_up_max_s: float | None = None
    held_to_end: int = Field(description="connections still open when the hang ended")
    longest_s: float | None = Field(None, description="the oldest of those: how long a call was held without giving up")


class UnitLanding(BaseModel):
    """One target of a fault: was it seen affected, and the evidence."""

    target: str
    landed: bool | None = Field(description="None: nothing could be observed")
    evidence: str
    calls: HeldCalls | None = Field(None, description="a hang's held calls, when its connections were read")


class Landing(BaseModel):
    """A fault's landing over all its targets."""

    landed: bool | None = Field(description="True when at least one target was observed affected; "
                                            "None when nothing could be observed")
    share: float | None = Field(None, description="targets observed affected / targets")
    units: list[UnitLanding] = Field(default_factory=list)

    @classmethod
    def of(cls, units: list[UnitLanding]) -> Landing:
        """The landing of a fault from its targets' evidence."""
        hit = [u for u in units if u.landed]
        if hit:
            landed: bool | None = True
        elif units and all(u.landed is False for u in units):
            landed = False
        else:
            landed = None
        return cls(landed=landed, share=len(hit) / len(units) if units else None, units=units)

    def summary(self) -> str:
        """One line: which targets were affected, with the evidence."""
        return "; ".join(f"{u.target}: {u.evidence}" for u in self.units) or "no targets"


class Probe:
    """Watches one injected fault's targets while it is in place: `sample` about four times a
    second, `finish` once when it is removed (or the run ends)."""

    def injected(self, undos: list[Undo]) -> None:
        """The fault's journal records, once it is injected: they name what it made (a hold's owner)."""

    def sample(self, now: float) -> None:
        """Take one observation (cheap: it runs on the engine's tick)."""

    def finish(self, now: float) -> list[UnitLanding]:
        """The evidence per target, from what was observed."""
        raise NotImplementedError


class NoEvidence(Probe):
    """Nothing observed (a type registered without a probe, or one that could not start): never "landed"."""

    def __init__(self, targets: list[str], why: str = "this fault type collects no landing evidence"):
        self.targets, self.why = targets, why

    def finish(self, now: float) -> list[UnitLanding]:
        return [UnitLanding(target=t, landed=None, evidence=self.why) for t in self.targets]


class ReadBack(Probe):
    """A fault whose effect is a state that can be read back: `check(target)` returns (affected,
    evidence), asked at every sample; a target counts as affected if it ever was."""

    #: Seconds between reads (reading back may be an HTTP call or a Docker API call).
    every_s = 1.0

    def __init__(self, targets: list[str], check: Callable[[str], tuple[bool | None, str]]):
        self.targets, self.check = targets, check
        self.seen: dict[str, tuple[bool | None, str]] = {}
        self._last = 0.0

    def sample(self, now: float) -> None:
        if now - self._last < self.every_s:
            return
        self._last = now
        for target in self.targets:
            if self.seen.get(target, (None, ""))[0]:
                continue  # affected once is evidence enough
            try:
                self.seen[target] = self.check(target)
            except Exception as exc:  # noqa: BLE001 - a read that fails is "could not observe", never a crash
                self.seen[target] = (None, f"could not read back: {exc}")

    def finish(self, now: float) -> list[UnitLanding]:
        if not self.seen:
            self._last = 0.0
            self.sample(now)
        return [UnitLanding(target=t, landed=self.seen.get(t, (None, ""))[0],
                            evidence=self.seen.get(t, (None, "never observed"))[1]) for t in self.targets]
