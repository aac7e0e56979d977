"""A quantile of a phase's histogram windows, and an interval that respects their dependence.

A p95 criterion means the 95th percentile of the requests in the phase, not the mean of each
window's p95 (a window of 3 requests has a "p95" as loud as one of 300). Each side's windows of
bucket increases are summed and the quantile read from the sum as Prometheus'
`histogram_quantile` reads it (linear within a bucket, the top finite bound for the +Inf bucket).

Its interval inverts a test of the share: the share of requests below a value x is a ratio of
per-window counts, a time series like any ratio SLI's, with the dependence-aware variance of that
ratio (`chaos.measure.longrun`, never below the binomial variance); the quantile's interval is
every x at which that share is not distinguishable from q. Woodruff's (1952) interval maps the
share's interval at the estimate through the distribution instead, which needs the density of
the bucket the quantile is in; on windows whose level wanders (lag-1 0.7) that density is so
noisy that it gave 0.04 false blocks at a target of 0.025, and the inverted test does not use
it. The two ends' half-widths make the difference of two sides' quantiles a Welch t interval on
the effective sample sizes of their windows.

One side's own variance is not enough: on wandering windows it is smallest exactly when the
side's share is far from q, so the inverted interval is too short when it is most wrong (A/A
false blocks 0.035 at a target of 0.025). The variance at every x is therefore never below the
*other* side's variance of its share at its own quantile, scaled to this side's events — an
independent estimate of the same quantity when nothing changed. That alone left boundary false
passes at 0.028 (target 0.025): the end a PASS rests on (`cautious`) is also never below the other
side's variance at x. Taking that on both ends was calibrated but conservative (A/A 0.018) and
halved the power. Scaling the floor by the binomial shape instead (this side's binomial variance
at x times the other side's design effect at its quantile), so that it is small where the share
is near 1, kept alpha 0.05 but blocked 0.0093 of A/A pairs at alpha 0.01 (target 0.005): not
shipped, though the floor as it is leaves an upper end open on small samples (a run stack's ~100
start delays at alpha 0.0023). Measured (`bench/calibration.py --part shapes --only p95`): A/A false blocks
0.026 and 0.0053 at alpha 0.05 and 0.01, boundary false passes 0.020 and 0.004.

A quantile in the +Inf bucket is at least the top finite bound and could be anything above it:
its interval is open above, so such a side can never PASS.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Literal

from pydantic import BaseModel, Field

from chaos.measure.longrun import MeanVariance, mean_variance


class Buckets(BaseModel):
    """One window of a histogram: the cumulative count at each upper bound (`le`), as Prometheus has it."""

    bounds: list[float] = Field(description="upper bounds, ascending; the last may be +inf")
    cumulative: list[float] = Field(description="events at or below each bound, non-decreasing")

    @classmethod
    def of(cls, buckets: dict[float, float]) -> Buckets:
        """From a {bound: cumulative count} mapping (chaos.measure.sli's per-window buckets)."""
        bounds = sorted(buckets)
        return cls(bounds=bounds, cumulative=[buckets[b] for b in bounds])

    @property
    def total(self) -> float:
        return self.cumulative[-1] if self.cumulative else 0.0

    def finite(self) -> bool:
        """Every count a finite number (a NaN from a scrape makes the window missing data)."""
        return all(math.isfinite(c) for c in self.cumulative)


class QuantileEstimate(BaseModel):
    """One side's quantile, its interval, and what the interval rests on."""

    value: float
    se: float = Field(description="the interval's half-width over z; inf when the interval is open above")
    low: float
    high: float
    events: float
    share: MeanVariance = Field(description="the share below the quantile: its dependence-aware variance")


def pooled(windows: Sequence[Buckets]) -> Buckets:
    """The windows' buckets summed over the bounds any of them has (a bound a window lacks holds
    that window's count at its next lower bound: a bucket series born later counted nothing before)."""
    bounds = sorted({b for w in windows for b in w.bounds})
    return Buckets(bounds=bounds, cumulative=[sum(_at(w, b) for w in windows) for b in bounds])


def _at(w: Buckets, bound: float) -> float:
    value = 0.0
    for le, count in zip(w.bounds, w.cumulative):
        if le > bound:
            break
        value = count
    return value


def level_of(h: Buckets, p: float) -> float:
    """The value below which a share p of the events lie: histogram_quantile, but +inf when it is
    in the +Inf bucket (the upper end of an interval cannot say "the top bound")."""
    rank = max(min(p, 1.0), 0.0) * h.total
    prev_le, prev = 0.0, 0.0
    for le, count in zip(h.bounds, h.cumulative):
        if count >= rank and count > prev:
            if math.isinf(le):
                return math.inf
            return prev_le + (le - prev_le) * (rank - prev) / (count - prev)
        if count >= rank:
            return prev_le if rank <= prev else le
        prev_le, prev = le, count
    return math.inf


def point(h: Buckets, q: float) -> float | None:
    """histogram_quantile of the summed buckets (the top finite bound when it lands in +Inf)."""
    if h.total <= 0:
        return None
    value = level_of(h, q)
    if math.isinf(value):
        finite = [b for b in h.bounds if math.isfinite(b)]
        return finite[-1] if finite else None
    return value


def estimate(windows: Sequence[Buckets], q: float, z: float, other: Sequence[Buckets] = (),
             cautious: Literal["low", "high"] | None = None) -> QuantileEstimate | None:
    """The q-quantile of the windows' events with its interval at normal quantile z: every x at which
    "a share q of events lie below x" is not rejected (the share's test inverted, so the bucket's
    density, noisy at a gate's sample sizes, is never estimated). `cautious`: the end a PASS rests
    on, which also takes the other side's variance at x (see module doc)."""
    mine = _Aligned([w for w in windows if w.total > 0])
    h = mine.pooled()
    value = point(h, q)
    if value is None:
        return None
    theirs = _Aligned([w for w in other if w.total > 0])
    # The other side's variance of its share at its own quantile, as if it had this side's events.
    at_q = theirs.variance_at_own(q) * theirs.events / mine.events if theirs.events else 0.0

    def variance(x: float, careful: bool) -> float:
        """The share's variance at x, never below the other side's at its own quantile, nor on the
        `careful` end below the other side's at x, scaled to this side's events (see module doc)."""
        found = max(mine.variance(x), at_q)
        return max(found, theirs.variance(x) * theirs.events / mine.events) if careful and theirs.events else found

    def bound(x: float, side: float) -> float:
        """The share below x, moved z standard errors towards `side` (+1 up: the interval's low end)."""
        return mine.share(x) + side * z * math.sqrt(variance(x, cautious == ("low" if side > 0 else "high")))

    finite = [b for b in h.bounds if math.isfinite(b)]
    top = finite[-1] if finite else 0.0
    low = _crossing(lambda x: bound(x, +1.0) >= q, 0.0, value)
    high = math.inf if bound(top, -1.0) <= q or math.isinf(level_of(h, q)) else \
        _crossing(lambda x: bound(x, -1.0) > q, value, top)
    share = _share_variance(mine.below(value), mine.totals, q, mine.events)
    se = (high - low) / (2 * z) if math.isfinite(high) and z > 0 else math.inf
    return QuantileEstimate(value=value, se=se, low=low, high=high, events=h.total, share=share)


class _Aligned:
    """Windows' cumulative counts on one set of bounds, as a matrix: the counts below any x of
    every window at once (an interval's bisection asks for dozens of x)."""

    def __init__(self, windows: Sequence[Buckets]):
        import numpy as np

        self.bounds = np.array(sorted({b for w in windows for b in w.bounds}), dtype=float)
        self.counts = np.array([[_at(w, b) for b in self.bounds] for w in windows],
                               dtype=float).reshape(len(windows), len(self.bounds))
        self.totals: list[float] = [float(t) for t in self.counts[:, -1]] if len(windows) else []
        self.events = float(sum(self.totals))
        self._last: tuple[float, list[float]] | None = None

    def below(self, x: float) -> list[float]:
        """Each window's events at or below x, interpolated linearly within a bucket as
        histogram_quantile does (the +Inf bucket adds nothing below a finite x)."""
        # A bisection step asks for the share and its variance at one x: counted once for both.
        if self._last is not None and self._last[0] == x:
            return self._last[1]
        found = self._below(x)
        self._last = (x, found)
        return found

    def _below(self, x: float) -> list[float]:
        import numpy as np

        i = int(np.searchsorted(self.bounds, x, side="left"))
        if i >= len(self.bounds):
            return [float(v) for v in self.counts[:, -1]]
        le, prev_le = float(self.bounds[i]), float(self.bounds[i - 1]) if i else 0.0
        prev = self.counts[:, i - 1] if i else np.zeros(len(self.counts))
        if math.isinf(le) or le == prev_le:
            return [float(v) for v in prev]
        return [float(v) for v in prev + (self.counts[:, i] - prev) * (x - prev_le) / (le - prev_le)]

    def pooled(self) -> Buckets:
        """The windows' buckets summed."""
        return Buckets(bounds=[float(b) for b in self.bounds], cumulative=[float(c) for c in self.counts.sum(axis=0)])

    def share(self, x: float) -> float:
        """The share of all the windows' events at or below x."""
        return sum(self.below(x)) / self.events

    def variance(self, x: float) -> float:
        """The dependence-aware variance of that share."""
        return _share_variance(self.below(x), self.totals, self.share(x), self.events).variance

    def variance_at_own(self, q: float) -> float:
        """The variance of the share below these windows' own q-quantile (0 without events)."""
        value = point(self.pooled(), q) if self.events else None
        return 0.0 if value is None else _share_variance(self.below(value), self.totals, q, self.events).variance


def _crossing(reached: Callable[[float], bool], lo: float, hi: float, steps: int = 26) -> float:
    """The smallest x in [lo, hi] at which `reached` holds (it holds at hi, and once it holds it
    keeps holding), by bisection: 26 halvings leave it within 1.5e-8 of the range."""
    if reached(lo):
        return lo
    for _ in range(steps):
        mid = (lo + hi) / 2
        if reached(mid):
            hi = mid
        else:
            lo = mid
    return hi


def _share_variance(below: list[float], totals: list[float], share: float, events: float) -> MeanVariance:
    """Variance of the share of events below a value: the windows' linearised counts as a time
    series, never below the binomial share (1 - share) / events."""
    per_window = events / len(totals)
    z = mean_variance([b - share * t for b, t in zip(below, totals)])
    variance = z.variance / per_window ** 2
    p = min(max(share, 0.5 / events), 1 - 0.5 / events)  # 0 of 40 below is not "known exactly"
    binomial = p * (1 - p) / events
    n_eff = z.n_eff if variance >= binomial else float(len(totals))
    return MeanVariance(mean=share, variance=max(variance, binomial), n=len(totals), n_eff=n_eff, lag1=z.lag1)
