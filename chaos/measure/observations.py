"""An SLI's observations over a window, in the shape its statistics need: the events of a ratio
SLI (good of total), or one value per sub-window for latency, gauge and rate SLIs."""

from __future__ import annotations

from chaos.measure.metrics.timeline import Timeline
from chaos.measure.sli import counter_delta, evaluate
from chaos.measure.stats import Counts
from chaos.spec.surfaces import RatioSLI, Selector, SLIDef


def observe(tl: Timeline, sli: SLIDef, source: str, t0: float, t1: float,
            window_s: float) -> Counts | list[float]:
    """Counts for a ratio SLI over [t0, t1]; else the SLI's value in each `window_s` slice of it
    (slices without data are left out: missing is never zero)."""
    if isinstance(sli, RatioSLI):
        with tl.frozen():  # good and total from the same samples
            good = counter_delta(tl, source, Selector.parse(sli.good), t0, t1) or 0.0
            total = counter_delta(tl, source, Selector.parse(sli.total), t0, t1) or 0.0
        return Counts(good=min(good, total), total=total)
    values = []
    t = t0
    while t + window_s <= t1 + 1e-6:
        v = evaluate(tl, sli, source, t, t + window_s).value
        if v is not None:
            values.append(v)
        t += window_s
    return values
