"""Telling, while the recovery phase runs, that every surface is back: the same sliding windows
the blast radius times recovery with (`chaos.measure.blast`), read as the data settles, so a
recovery phase can end as soon as the stack is whole again instead of after a fixed wait.

Back means every SLI of every surface with a baseline value: each of RECOVERED_AFTER consecutive
sliding windows (WINDOW_S wide, a STEP_S apart, all after the fault's end) has a value, and it is
within the SLI's tolerance of the baseline. A window with no value is not evidence of health:
the wait goes on (bounded by the phase's declared length)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chaos.measure.blast import RECOVERED_AFTER, STEP_S, WINDOW_S, is_degraded
from chaos.measure.sli import evaluate

if TYPE_CHECKING:
    from chaos.measure.metrics.timeline import Timeline
    from chaos.spec.surfaces import SLIDef, Surface


class RecoveryWatch:
    """Whether every surface is back within its tolerance of its baseline, after `healed_at`."""

    def __init__(self, tl: Timeline, surfaces: dict[str, Surface], baseline: tuple[float, float], healed_at: float):
        self.tl, self.healed_at = tl, healed_at
        self.slis: list[tuple[SLIDef, str, float]] = []
        for surface in surfaces.values():
            for sli in surface.slis.values():
                source = sli.source or surface.services[0]
                value = evaluate(tl, sli, source, *baseline).value
                if value is not None:  # an SLI with no baseline cannot be back to it: the radius says unknown
                    self.slis.append((sli, source, value))
        self.healthy = 0
        self.next_end = healed_at + WINDOW_S
        self.back_at: float | None = None

    def back(self, settled: float) -> bool:
        """Whether the surfaces are back, judging every window that ends by `settled` (a time up
        to which the timeline is complete) and has not been judged yet."""
        while self.back_at is None and self.next_end <= settled:
            t = self.next_end
            self.next_end += STEP_S
            if all(self._ok(sli, source, base, t) for sli, source, base in self.slis):
                self.healthy += 1
                if self.healthy >= RECOVERED_AFTER:
                    self.back_at = t
            else:
                self.healthy = 0
        return self.back_at is not None

    def _ok(self, sli: SLIDef, source: str, base: float, t: float) -> bool:
        value = evaluate(self.tl, sli, source, t - WINDOW_S, t).value
        return value is not None and is_degraded(sli, base, value)[0] is False
