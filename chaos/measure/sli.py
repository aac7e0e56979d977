"""SLIs: declared per surface, computed for a time window from the timeline.

Kinds: `ratio` of two counter deltas, `quantile` of a histogram's bucket deltas, `gauge`
extremes, `rate` of a counter. A window without data gives a value of None with the reason —
never zero.

One evaluator for every reader: `evaluate_windows` reads each metric once for any number of
windows and computes each window as `evaluate` defines it (`evaluate` is it with one window), so
the judge, the blast radius and the report's charts see the same values.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from chaos.measure.quantiles import Buckets, point
from chaos.spec.surfaces import QuantileSLI, RateSLI, RatioSLI, Selector, SLIDef

if TYPE_CHECKING:
    from chaos.measure.metrics.timeline import Timeline

#: How far before a window a counter's last value is looked for: the increase starts from it (a
#: series with no value that recent starts at 0, like one born in the window).
LOOKBACK_S = 3600.0


class SLIValue(BaseModel):
    """An SLI over one window: its value (None when there was no data), sample size and why missing."""

    value: float | None
    n: float = 0
    missing: str | None = None
    # Kept in memory for the statistics, not written to a run's result: the stored run has the samples.
    buckets: dict[float, float] | None = Field(
        default=None, exclude=True, description="a quantile SLI's cumulative bucket increases by bound")


# --- evaluation -------------------------------------------------------------------------------
def _counter_name(name: str) -> str:
    return name if name.endswith(("_total", "_count", "_sum", "_bucket")) else name + "_total"


class _Counter:
    """The series of one counter that match a selector, read once for a span of time: the increase
    over any window in it (resets handled; a series new in the window starts at 0).

    A series already there at the source's first read (`first_read`) has an unknown past — on a
    reused stack, every earlier run's events: it counts from that first value, not from 0, or the
    first window would show the whole past as a spike."""

    def __init__(self, rows: list[tuple[float, dict[str, str], float]], sel: Selector,
                 first_read: float | None = None):
        self._times = [t for t, _, _ in rows]  # every row of the metric, matching or not
        self._first_read = first_read
        series: dict[str, tuple[list[float], list[float], list[int]]] = {}
        for i, (t, labels, v) in enumerate(rows):
            if sel.matches(labels):
                times, values, order = series.setdefault(repr(sorted(labels.items())), ([], [], []))
                times.append(t)
                values.append(v)
                order.append(i)
        self._series = list(series.values())

    def delta(self, t0: float, t1: float) -> float | None:
        """Increase over (t0, t1], from the last value in the lookback before it; None when the
        metric has no row at all from t0 - LOOKBACK_S to t1."""
        lo = t0 - LOOKBACK_S
        i = bisect.bisect_left(self._times, lo)
        if i == len(self._times) or self._times[i] > t1:
            return None
        seen = []
        for times, values, order in self._series:
            first = bisect.bisect_left(times, lo)
            inside = bisect.bisect_right(times, t0)
            end = bisect.bisect_right(times, t1)
            if first < end:  # a row in [lo, t1]: summed in the order the series first appear there
                known = self._first_read is not None and times[first] <= self._first_read
                seen.append((order[first], values, first, inside, end, known))
        seen.sort(key=lambda s: s[0])
        total = 0.0
        for _, values, first, inside, end, known in seen:
            prev = values[inside - 1] if inside > first else (values[first] if known else 0.0)
            for v in values[inside:end]:
                total += v - prev if v >= prev else v  # a drop is a counter reset
                prev = v
        return total


def _read_counter(tl: Timeline, source: str, sel: Selector, t0: float, t1: float) -> _Counter:
    """A counter read for windows within [t0, t1]."""
    return _Counter(tl.series(source, _counter_name(sel.name), t0 - LOOKBACK_S, t1), sel, tl.first_read(source))


def counter_delta(tl: Timeline, source: str, sel: Selector, t0: float, t1: float) -> float | None:
    """Increase of the matching counters over [t0, t1] (resets handled; new series start at 0)."""
    with tl.frozen():
        if not tl.scrape_times(source, t0, t1):
            return None
        return _read_counter(tl, source, sel, t0, t1).delta(t0, t1)


class _Histogram:
    """A histogram's matching buckets, read once: their increases over any window, by bound."""

    def __init__(self, rows: list[tuple[float, dict[str, str], float]], sel: Selector,
                 first_read: float | None = None):
        by_bound: dict[float, list[tuple[float, dict[str, str], float]]] = {}
        for row in rows:
            # Bounds are grouped by value: le="1", "1.0" and "1e0" are one bucket, whatever the exporter wrote.
            if "le" in row[1] and sel.matches(row[1]):
                by_bound.setdefault(float(row[1]["le"]), []).append(row)
        self._seen = {le: [t for t, _, _ in by_bound[le]] for le in sorted(by_bound)}
        every = Selector(name=sel.name + "_bucket")
        self._counters = {le: _Counter(by_bound[le], every, first_read) for le in self._seen}

    def buckets(self, t0: float, t1: float) -> dict[float, float]:
        """Cumulative counts by bound over (t0, t1], of the bounds with a row in the counter lookback."""
        lo = t0 - LOOKBACK_S
        out = {}
        for le, times in self._seen.items():
            i = bisect.bisect_left(times, lo)
            if i < len(times) and times[i] <= t1:
                out[le] = self._counters[le].delta(t0, t1) or 0.0
        return out


def quantile(buckets: dict[float, float], q: float) -> float | None:
    """Prometheus-style histogram_quantile over cumulative bucket counts."""
    return point(Buckets.of(buckets), q) if buckets else None


def evaluate(tl: Timeline, sli: SLIDef, source: str, t0: float, t1: float) -> SLIValue:
    """The SLI's value over [t0, t1], read from one consistent timeline (the sampler may be writing)."""
    return evaluate_windows(tl, sli, source, [(t0, t1)])[0]


def evaluate_windows(tl: Timeline, sli: SLIDef, source: str, windows: Sequence[tuple[float, float]]) -> list[SLIValue]:
    """The SLI over each window [t0, t1], exactly as `evaluate` has it one by one, from one read of
    each metric over all of them (a chart's hundreds of windows, a judge's slices of a phase); the
    reads see one consistent timeline."""
    if not windows:
        return []
    lo, hi = min(t0 for t0, _ in windows), max(t1 for _, t1 in windows)
    out = []
    with tl.frozen():
        scrapes = tl.scrape_times(source, lo, hi)
        value = _reader(tl, sli, source, lo, hi)
        for t0, t1 in windows:
            i = bisect.bisect_left(scrapes, t0)
            if i == len(scrapes) or scrapes[i] > t1:
                failed = tl.missing_count(source, t0, t1)
                out.append(SLIValue(value=None, missing=f"no successful read of {source} in the window"
                                    + (f" ({failed} failed)" if failed else "")))
            else:
                out.append(value(t0, t1))
    return out


def _reader(tl: Timeline, sli: SLIDef, source: str, lo: float, hi: float) -> Callable[[float, float], SLIValue]:
    """The SLI's metrics read for windows within [lo, hi]: its value over one of them (read)."""
    if isinstance(sli, RatioSLI):
        good = _read_counter(tl, source, Selector.parse(sli.good), lo, hi)
        total = _read_counter(tl, source, Selector.parse(sli.total), lo, hi)

        def ratio(t0: float, t1: float) -> SLIValue:
            n = total.delta(t0, t1)
            if not n:
                return SLIValue(value=None, n=0, missing="no events in the window")
            return SLIValue(value=(good.delta(t0, t1) or 0.0) / n, n=n)
        return ratio
    if isinstance(sli, QuantileSLI):
        sel = Selector.parse(sli.histogram)
        histogram = _Histogram(tl.series(source, sel.name + "_bucket", lo - LOOKBACK_S, hi), sel,
                               tl.first_read(source))

        def latency(t0: float, t1: float) -> SLIValue:
            buckets = histogram.buckets(t0, t1)
            value = quantile(buckets, sli.q)
            return SLIValue(value=value, n=max(buckets.values()) if buckets else 0, buckets=buckets,
                            missing=None if value is not None else "no observations in the window")
        return latency
    if isinstance(sli, RateSLI):
        counter = _read_counter(tl, source, Selector.parse(sli.counter), lo, hi)

        def rate(t0: float, t1: float) -> SLIValue:
            delta = counter.delta(t0, t1)
            return SLIValue(value=None if delta is None else delta / max(t1 - t0, 1e-9), n=delta or 0)
        return rate
    sel = Selector.parse(sli.metric)
    per_scrape: dict[float, float] = {}
    for t, labels, v in tl.series(source, sel.name, lo, hi):
        if sel.matches(labels):
            per_scrape[t] = per_scrape.get(t, 0.0) + v
    times = sorted(per_scrape)
    samples = [per_scrape[t] for t in times]
    aggregates: dict[str, Callable[[list[float]], float]] = {
        "max": max, "min": min, "mean": lambda xs: sum(xs) / len(xs), "last": lambda xs: xs[-1]}
    agg = aggregates[sli.agg]

    def gauge(t0: float, t1: float) -> SLIValue:
        values = samples[bisect.bisect_left(times, t0):bisect.bisect_right(times, t1)]
        if not values:
            return SLIValue(value=None, missing=f"no samples of {sel.name}")
        return SLIValue(value=agg(values), n=len(values))
    return gauge
