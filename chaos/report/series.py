"""An SLI over many windows at once, for charts: the same values as `chaos.measure.sli.evaluate` gives
window by window, from one read of each metric instead of one per window.

A counter becomes a step curve of its cumulative increase (resets handled, a new series starting
at 0, as `counter_delta` has it); the increase over (t0, t1] is then a difference of two lookups.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable

from chaos.measure.metrics.timeline import Timeline
from chaos.measure.sli import quantile
from chaos.spec.surfaces import GaugeSLI, QuantileSLI, RateSLI, RatioSLI, Selector, SLIDef


class _Curve:
    """Cumulative increase of the matching counters, as a step function of time."""

    def __init__(self, rows: list[tuple[float, dict[str, str], float]], sel: Selector,
                 extra: dict[str, str] | None = None):
        extra = extra or {}
        prev: dict[str, float] = {}
        steps: list[tuple[float, float]] = []
        for t, labels, v in rows:
            if not sel.matches(labels) or any(labels.get(k) != val for k, val in extra.items()):
                continue
            key = repr(sorted(labels.items()))
            p = prev.get(key, 0.0)
            steps.append((t, v - p if v >= p else v))
            prev[key] = v
        steps.sort()
        self.times: list[float] = []
        self.cum: list[float] = []
        total = 0.0
        for t, inc in steps:
            total += inc
            if self.times and self.times[-1] == t:
                self.cum[-1] = total
            else:
                self.times.append(t)
                self.cum.append(total)

    def at(self, t: float) -> float:
        i = bisect.bisect_right(self.times, t)
        return self.cum[i - 1] if i else 0.0

    def delta(self, t0: float, t1: float) -> float:
        return self.at(t1) - self.at(t0)


def _counter_name(name: str) -> str:
    return name if name.endswith(("_total", "_count", "_sum", "_bucket")) else name + "_total"


def windowed(tl: Timeline, sli: SLIDef, source: str, ends: list[float], window_s: float) -> list[float | None]:
    """The SLI over (end - window_s, end] for every end: None where evaluate gives None."""
    if not ends:
        return []
    lo, hi = ends[0] - window_s - 3600, ends[-1]
    scrapes = tl.scrape_times(source, lo, hi)

    def scraped(t0: float, t1: float) -> bool:
        i = bisect.bisect_left(scrapes, t0)
        return i < len(scrapes) and scrapes[i] <= t1

    out: list[float | None] = []
    if isinstance(sli, (RatioSLI, RateSLI)):
        if isinstance(sli, RatioSLI):
            g_sel, t_sel = Selector.parse(sli.good), Selector.parse(sli.total)
            good = _Curve(tl.series(source, _counter_name(g_sel.name), lo, hi), g_sel)
            total = _Curve(tl.series(source, _counter_name(t_sel.name), lo, hi), t_sel)
        else:
            c_sel = Selector.parse(sli.counter)
            total = _Curve(tl.series(source, _counter_name(c_sel.name), lo, hi), c_sel)
        for end in ends:
            t0 = end - window_s
            if not scraped(t0, end):
                out.append(None)
            elif isinstance(sli, RateSLI):
                out.append(total.delta(t0, end) / max(window_s, 1e-9) if total.times else None)
            else:
                n = total.delta(t0, end)
                out.append(good.delta(t0, end) / n if n else None)
        return out
    if isinstance(sli, QuantileSLI):
        sel = Selector.parse(sli.histogram)
        rows = tl.series(source, sel.name + "_bucket", lo, hi)
        les = sorted({float(labels["le"]) for _, labels, _ in rows if "le" in labels and sel.matches(labels)})
        curves = {le: _Curve(rows, sel, {"le": "+Inf" if math.isinf(le) else repr(float(le))}) for le in les}
        for end in ends:
            t0 = end - window_s
            out.append(quantile({le: c.delta(t0, end) for le, c in curves.items()}, sli.q) if scraped(t0, end) else None)
        return out
    assert isinstance(sli, GaugeSLI)
    sel = Selector.parse(sli.metric)
    per_scrape: dict[float, float] = {}
    for t, labels, v in tl.series(source, sel.name, lo, hi):
        if sel.matches(labels):
            per_scrape[t] = per_scrape.get(t, 0.0) + v
    times = sorted(per_scrape)
    aggregates: dict[str, Callable[[list[float]], float]] = {
        "max": max, "min": min, "mean": lambda xs: sum(xs) / len(xs), "last": lambda xs: xs[-1]}
    agg = aggregates[sli.agg]
    for end in ends:
        t0 = end - window_s
        if not scraped(t0, end):
            out.append(None)
            continue
        values = [per_scrape[t] for t in times[bisect.bisect_left(times, t0):bisect.bisect_right(times, end)]]
        out.append(agg(values) if values else None)
    return out
