"""An SLI's observations over a window, in the shape its statistics need: a ratio SLI's events
(good of total) per sub-window, a quantile SLI's histogram buckets per sub-window, and one value
per sub-window for gauge and rate SLIs. All are time series, and `chaos.measure.stats.compare`
treats them as such."""

from __future__ import annotations

import math

from chaos.measure.metrics.timeline import Timeline
from chaos.measure.quantiles import Buckets
from chaos.measure.sli import counter_delta, evaluate, evaluate_windows
from chaos.measure.stats import Counts
from chaos.spec.surfaces import QuantileSLI, RatioSLI, Selector, SLIDef


def observe(tl: Timeline, sli: SLIDef, source: str, t0: float, t1: float,
            window_s: float, buckets: bool = True) -> list[Counts] | list[Buckets] | list[float]:
    """The SLI in each `window_s` slice of [t0, t1]: its events for a ratio SLI, its histogram's
    bucket increases for a quantile SLI (its q-quantile is of the phase's requests, not a mean of
    windows' quantiles; `buckets=False`: each window's quantile), else its value (slices without a
    read are left out: missing is never zero)."""
    if isinstance(sli, QuantileSLI) and buckets:
        # A window that was read but saw no requests stays: it holds no events, and says so.
        return [Buckets.of(v.buckets) for v in evaluate_windows(tl, sli, source, _slices(t0, t1, window_s))
                if v.buckets]
    if isinstance(sli, RatioSLI):
        good_sel, total_sel = Selector.parse(sli.good), Selector.parse(sli.total)
        counts = []
        with tl.frozen():  # good and total from the same samples
            for a, b in _slices(t0, t1, window_s):
                good = counter_delta(tl, source, good_sel, a, b)
                total = counter_delta(tl, source, total_sel, a, b)
                if good is not None and total is not None and math.isfinite(good) and math.isfinite(total):
                    counts.append(Counts(good=max(min(good, total), 0.0), total=max(total, 0.0)))
        return counts
    return [v for _, v in observe_points(tl, sli, source, t0, t1, window_s)]


def observe_points(tl: Timeline, sli: SLIDef, source: str, t0: float, t1: float,
                   window_s: float) -> list[tuple[float, float]]:
    """A value SLI in each `window_s` slice of [t0, t1], with the slice's end (seconds from t0): the
    windows of a trend, whose slope needs their times (slices without data are left out)."""
    points = []
    for a, b in _slices(t0, t1, window_s):
        v = evaluate(tl, sli, source, a, b).value
        if v is not None:
            points.append((b - t0, v))  # NaN and inf are kept: the statistics count them as missing, by name
    return points


def _slices(t0: float, t1: float, window_s: float) -> list[tuple[float, float]]:
    found, t = [], t0
    while t + window_s <= t1 + 1e-6:
        found.append((t, t + window_s))
        t += window_s
    return found
