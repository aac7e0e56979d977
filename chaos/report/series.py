"""An SLI over many windows at once, for charts: `chaos.measure.sli.evaluate_windows` — the values
the judge and the blast radius see, from one read of each metric — shaped as a chart's series.
"""

from __future__ import annotations

from chaos.measure.metrics.timeline import Timeline
from chaos.measure.sli import evaluate_windows
from chaos.spec.surfaces import SLIDef


def windowed(tl: Timeline, sli: SLIDef, source: str, ends: list[float], window_s: float) -> list[float | None]:
    """The SLI over [end - window_s, end] for every end: None where there was no data (a gap, never zero)."""
    return [v.value for v in evaluate_windows(tl, sli, source, [(end - window_s, end) for end in ends])]
