"""SLIs: declared per surface, computed for a time window from the timeline.

Kinds: `ratio` of two counter deltas, `quantile` of a histogram's bucket deltas, `gauge`
extremes, `rate` of a counter. A window without data gives a value of None with the reason —
never zero.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from pydantic import BaseModel

from chaos.spec.surfaces import GaugeSLI, QuantileSLI, RateSLI, RatioSLI, Selector

if TYPE_CHECKING:
    from chaos.measure.metrics.timeline import Timeline


class SLIValue(BaseModel):
    """An SLI over one window: its value (None when there was no data), sample size and why missing."""

    value: float | None
    n: float = 0
    missing: str | None = None


# --- evaluation -------------------------------------------------------------------------------
def counter_delta(tl: Timeline, source: str, sel: Selector, t0: float, t1: float) -> float | None:
    """Increase of the matching counters over [t0, t1] (resets handled; new series start at 0)."""
    name = sel.name if sel.name.endswith(("_total", "_count", "_sum", "_bucket")) else sel.name + "_total"
    rows = tl.series(source, name, t0 - 3600, t1)
    if not rows or not tl.scrape_times(source, t0, t1):
        return None
    by_series: dict[str, list[tuple[float, float]]] = {}
    for t, labels, v in rows:
        if sel.matches(labels):
            by_series.setdefault(repr(sorted(labels.items())), []).append((t, v))
    total = 0.0
    for points in by_series.values():
        before = [v for t, v in points if t <= t0]
        inside = [(t, v) for t, v in points if t0 < t <= t1]
        prev = before[-1] if before else 0.0
        for _, v in inside:
            total += v - prev if v >= prev else v  # a drop is a counter reset
            prev = v
    return total


def _buckets(tl: Timeline, source: str, sel: Selector, t0: float, t1: float) -> dict[float, float] | None:
    name = sel.name + "_bucket"
    rows = tl.series(source, name, t0 - 3600, t1)
    if not tl.scrape_times(source, t0, t1):
        return None
    les = sorted({float(labels["le"]) for _, labels, _ in rows if "le" in labels and sel.matches(labels)})
    out = {}
    for le in les:
        le_sel = Selector(name=name, equal={**sel.equal, "le": _le_text(le)}, not_equal=sel.not_equal)
        out[le] = counter_delta(tl, source, le_sel, t0, t1) or 0.0
    return out


def _le_text(le: float) -> str:
    return "+Inf" if math.isinf(le) else repr(float(le))


def quantile(buckets: dict[float, float], q: float) -> float | None:
    """Prometheus-style histogram_quantile over cumulative bucket counts."""
    if not buckets:
        return None
    les = sorted(buckets)
    total = buckets[les[-1]]
    if total <= 0:
        return None
    rank = q * total
    prev_le, prev_count = 0.0, 0.0
    for le in les:
        count = buckets[le]
        if count >= rank:
            if math.isinf(le):
                return prev_le
            if count == prev_count:
                return le
            return prev_le + (le - prev_le) * (rank - prev_count) / (count - prev_count)
        prev_le, prev_count = le, count
    return les[-1]


def evaluate(tl: Timeline, sli: RatioSLI | QuantileSLI | GaugeSLI | RateSLI, source: str,
             t0: float, t1: float) -> SLIValue:
    """The SLI's value over [t0, t1], read from one consistent timeline (the sampler may be writing)."""
    with tl.frozen():
        return _evaluate(tl, sli, source, t0, t1)


def _evaluate(tl: Timeline, sli: RatioSLI | QuantileSLI | GaugeSLI | RateSLI, source: str,
              t0: float, t1: float) -> SLIValue:
    if not tl.scrape_times(source, t0, t1):
        failed = tl.missing_count(source, t0, t1)
        return SLIValue(value=None, missing=f"no successful read of {source} in the window"
                        + (f" ({failed} failed)" if failed else ""))
    if isinstance(sli, RatioSLI):
        good = counter_delta(tl, source, Selector.parse(sli.good), t0, t1)
        total = counter_delta(tl, source, Selector.parse(sli.total), t0, t1)
        if not total:
            return SLIValue(value=None, n=0, missing="no events in the window")
        return SLIValue(value=(good or 0.0) / total, n=total)
    if isinstance(sli, QuantileSLI):
        buckets = _buckets(tl, source, Selector.parse(sli.histogram), t0, t1)
        n = max(buckets.values()) if buckets else 0
        value = quantile(buckets or {}, sli.q)
        return SLIValue(value=value, n=n, missing=None if value is not None else "no observations in the window")
    if isinstance(sli, RateSLI):
        delta = counter_delta(tl, source, Selector.parse(sli.counter), t0, t1)
        return SLIValue(value=None if delta is None else delta / max(t1 - t0, 1e-9), n=delta or 0)
    sel = Selector.parse(sli.metric)
    per_scrape: dict[float, float] = {}
    for t, labels, v in tl.series(source, sel.name, t0, t1):
        if sel.matches(labels):
            per_scrape[t] = per_scrape.get(t, 0.0) + v
    if not per_scrape:
        return SLIValue(value=None, missing=f"no samples of {sel.name}")
    values = [per_scrape[t] for t in sorted(per_scrape)]
    aggregates: dict[str, Callable[[list[float]], float]] = {
        "max": max, "min": min, "mean": lambda xs: sum(xs) / len(xs), "last": lambda xs: xs[-1]}
    agg = aggregates[sli.agg]
    return SLIValue(value=agg(values), n=len(values))
