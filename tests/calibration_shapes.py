"""Generated data shaped like the SLIs a gate really sees, for calibrating `compare`.

Used by the calibration tests (tests/chaos/test_calibration.py) and by bench/calibration.py, which
prints the same rows at the low alphas a shipped policy uses. Each shape draws one side of an A/A
comparison: both sides come from the same distribution, so any FAIL is a false block.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.stats import beta as beta_dist
from scipy.stats import lognorm

from chaos.measure.quantiles import Buckets
from chaos.measure.stats import Counts, Observations


def ar1(rng: np.random.Generator, n: int, phi: float, average: int = 1) -> list[float]:
    """An AR(1) series of n windows (each the mean of `average` 1-s values), level 10, burn-in dropped."""
    m = n * average + 100
    e = rng.normal(size=m)
    x = np.empty(m)
    x[0] = e[0]
    for i in range(1, m):
        x[i] = phi * x[i - 1] + e[i]
    return list(10 + x[100:].reshape(n, average).mean(axis=1))


@dataclass(frozen=True)
class Shape:
    """One row of the calibration table: how a side is drawn, and the SLI's direction."""

    name: str
    draw: Callable[[np.random.Generator], Observations]
    better: str = "lower"
    #: The worsening a detection test adds to the candidate, detected at 80% power at alpha 0.05: in
    #: SLI units or ratio points with half of it allowed, or for `scales` a share of the baseline with
    #: 20% allowed.
    shift: float = 0.0
    #: Positive skewed values are compared as ratios: their boundary case scales, the others add.
    scales: bool = False
    #: The share of comparisons that detect `shift`.
    power: float = 0.8
    #: A quantile SLI: the q compared, `worsened(rng, factor)` draws a side whose latencies are all
    #: `factor` times longer, and `gap(factor)` is the true worsening of its bucket-interpolated
    #: quantile (the floor that puts `factor` exactly at the allowance). `shift` is then a ratio.
    quantile: float | None = None
    worsened: Callable[[np.random.Generator, float], Observations] | None = None
    gap: Callable[[float], float] | None = None


def _offset_runs(rng: np.random.Generator, runs: int, n: int) -> list[list[float]]:
    """Runs that differ a little: each run's level offset by 0.25 sd, windows within it independent."""
    return [list(rng.normal(10 + rng.normal(0, 0.25), 1.0, n)) for _ in range(runs)]


def _overdispersed(rng: np.random.Generator, n: int, events: int) -> list[Counts]:
    """Per-window counts whose success rate itself varies window to window (Beta around 0.95)."""
    rates = beta_dist.rvs(95 * 0.5, 5 * 0.5, size=n, random_state=rng)
    return [Counts(good=float(rng.binomial(events, p)), total=float(events)) for p in rates]


#: Prometheus client's default histogram buckets.
DEFAULT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, math.inf]
#: Request latencies: lognormal around 0.1 s (sigma 0.6) in windows whose level wanders (the log
#: level an AR(1), lag-1 0.7, stationary sd 0.3), Poisson(20) requests a window.
LATENCY_MU, LATENCY_SIGMA, LEVEL_SD = math.log(0.1), 0.6, 0.3


def _histogram_windows(rng: np.random.Generator, n: int, factor: float = 1.0) -> list[Buckets]:
    """n windows of a request-latency histogram: each window's requests in cumulative buckets."""
    levels = (np.array(ar1(rng, n, 0.7)) - 10) * LEVEL_SD * math.sqrt(1 - 0.7 ** 2)
    out = []
    for level in levels:
        xs = factor * rng.lognormal(LATENCY_MU + level, LATENCY_SIGMA, rng.poisson(20))
        out.append(Buckets(bounds=DEFAULT_BUCKETS, cumulative=[float((xs <= b).sum()) for b in DEFAULT_BUCKETS]))
    return out


def _interpolated_quantile(q: float, factor: float) -> float:
    """The q-quantile histogram_quantile reads from infinitely many of those requests (their
    marginal is lognormal, sigma sqrt(0.6^2 + 0.3^2)), linear within the default buckets."""
    dist = lognorm(s=math.hypot(LATENCY_SIGMA, LEVEL_SD), scale=factor * math.exp(LATENCY_MU))
    prev_le, prev = 0.0, 0.0
    for le in DEFAULT_BUCKETS[:-1]:
        share = float(dist.cdf(le))
        if share >= q:
            return prev_le + (le - prev_le) * (q - prev) / (share - prev)
        prev_le, prev = le, share
    return DEFAULT_BUCKETS[-2]


SHAPES: dict[str, Shape] = {s.name: s for s in [
    Shape("lognormal sigma 1, n 10", lambda r: list(r.lognormal(0, 1, 10)), shift=12.0, scales=True),
    Shape("lognormal sigma 1, n 20", lambda r: list(r.lognormal(0, 1, 20)), shift=4.0, scales=True),
    Shape("Pareto 1.5, n 40", lambda r: list(r.pareto(1.5, 40) + 1), shift=1.0, scales=True),
    Shape("AR(1) phi 0.7, 1-s windows, n 30", lambda r: ar1(r, 30, 0.7), shift=60.0,
          # About one series in five of 30 windows this dependent shows r near 0.9, worth one or two
          # independent values: no worsening is visible in it, however large. n 60 reaches 80%.
          power=0.75),
    Shape("AR(1) phi 0.7, 1-s windows, n 60", lambda r: ar1(r, 60, 0.7), shift=6.0),
    Shape("AR(1) phi 0.7, 2-s windows, n 30", lambda r: ar1(r, 30, 0.7, average=2), shift=10.0),
    Shape("run offsets 0.25 sd, 3 runs of 20", lambda r: _offset_runs(r, 3, 20), shift=3.0),
    Shape("overdispersed counts, 60 windows of 10", lambda r: _overdispersed(r, 60, 10), better="higher",
          shift=0.12),
    Shape("ties: Poisson(2) integers, n 30", lambda r: [float(v) for v in r.poisson(2, 30)], shift=3.0),
    Shape("p95 of histogram windows, level wandering, 30 windows of ~20", lambda r: _histogram_windows(r, 30),
          # As for AR(1) n 30: a phase of 30 windows whose level wanders this much is worth about five
          # independent ones, and about one in seven shows no worsening however large (3.5x: 0.855).
          shift=2.0, quantile=0.95, power=0.75, worsened=lambda r, f: _histogram_windows(r, 30, f),
          gap=lambda f: _interpolated_quantile(0.95, f) - _interpolated_quantile(0.95, 1.0)),
]}


def shifted(obs: Observations, shift: float, better: str) -> Observations:
    """The candidate made worse by `shift` (values up, or success ratios down by `shift` points)."""
    if isinstance(obs, Counts):
        return Counts(good=max(obs.good - shift * obs.total, 0.0), total=obs.total)
    items = list(obs)
    if items and isinstance(items[0], list):
        return [shifted(run, shift, better) for run in items]  # type: ignore[misc]
    if items and isinstance(items[0], Counts):
        return [Counts(good=max(c.good - shift * c.total, 0.0), total=c.total) for c in items]
    sign = 1.0 if better == "lower" else -1.0
    return [v + sign * shift for v in items]


def scaled(obs: Observations, factor: float) -> Observations:
    """The candidate's values multiplied by `factor` (a ratio worsening, for the log-scale shapes)."""
    return [v * factor for v in obs]  # type: ignore[union-attr, operator]


def rates(shape: Shape, reps: int, alpha: float, seed: int, *, boundary: bool = False,
          detect: bool = False) -> tuple[int, int]:
    """(FAILs, PASSes) over `reps` generated comparisons: A/A with no allowance (false blocks), at the
    allowance exactly (`boundary`: a PASS there is a false pass), or with the shape's shift (`detect`)."""
    from chaos.measure.stats import compare

    rng = np.random.default_rng(seed)
    fails = passes = 0
    relative = floor = 0.0
    for _ in range(reps):
        base, cand = shape.draw(rng), shape.draw(rng)
        if shape.quantile is not None and (boundary or detect):
            # Latencies 1.2 times longer allowed: at it exactly, or 1 + `shift` times longer.
            assert shape.worsened is not None and shape.gap is not None
            floor = shape.gap(1.2)
            cand = shape.worsened(rng, 1.2 if boundary else 1 + shape.shift)
        elif shape.scales and (boundary or detect):
            # A ratio worsening, 20% allowed: at it exactly, or `shift` as a share of the baseline.
            relative = 0.2
            cand = scaled(cand, 1.2 if boundary else 1 + shape.shift)
        elif boundary or detect:
            floor = shape.shift / 2 if detect else shape.shift
            cand = shifted(cand, shape.shift, shape.better)
        d = compare(base, cand, better=shape.better, relative=relative, floor=floor, alpha=alpha, min_samples=5,  # type: ignore[arg-type]
                    quantile=shape.quantile)
        fails += d.verdict == "FAIL"
        passes += d.verdict == "PASS"
    return fails, passes


def upper_bound(events: int, reps: int) -> float:
    """The Clopper-Pearson upper 95% bound of a rate seen `events` times in `reps`."""
    return 1.0 if events >= reps else float(beta_dist.ppf(0.95, events + 1, reps - events))


def failfast_rate(method: str, reps: int, alpha: float, seed: int, looks: int = 30,
                  baseline_n: int = 60) -> int:
    """A/A gates with fail-fast, as the gate runs them: AR(1) phi 0.7 windows, a baseline of
    `baseline_n`, a candidate fault phase of `looks` windows looked at after each one, half of
    alpha spent by the looks (chaos.gate.verdict.Spending, linear in the windows seen), the
    other half by the final comparison. Returns how many of `reps` gates blocked."""
    from chaos.gate.verdict import Spending
    from chaos.measure.stats import compare

    rng = np.random.default_rng(seed)
    blocks = 0
    for _ in range(reps):
        base, cand = ar1(rng, baseline_n, 0.7), ar1(rng, looks, 0.7)
        spending = Spending(alpha / 2)
        blocked = False
        for k in range(1, looks + 1):
            level = spending.available(("c", "e"), k / looks)
            d = compare(base, cand[:k], better="lower", alpha=level, min_samples=10, method=method)  # type: ignore[arg-type]
            if d.effect is None:
                continue  # too few windows yet: nothing spent
            spending.spend(("c", "e"), k / looks)
            if d.verdict == "FAIL":
                blocked = True
                break
        if not blocked:
            final = compare(base, cand, better="lower", alpha=alpha / 2, min_samples=10, method=method)  # type: ignore[arg-type]
            blocked = final.verdict == "FAIL"
        blocks += blocked
    return blocks


def ar1_windows(rng: np.random.Generator, n: int, phi: float, slope: float = 0.0,
                step_s: float = 2.0) -> list[tuple[float, float]]:
    """A gauge's windows for a trend: (time, value) every `step_s`, AR(1) noise around 10 plus
    `slope` per second."""
    return [(i * step_s, v + slope * i * step_s) for i, v in enumerate(ar1(rng, n, phi))]


#: Gauges a held resource really gives, for the trend's calibration: AR(1) noise (sd 1 innovations)
#: as it is, rounded to whole units as a count of slots is (10 +- 1), as a lognormal level (10 x
#: exp(0.5 x the noise): skewed, a few windows far above the rest), and as Poisson counts around a
#: wandering rate (3 x exp(0.4 x the noise)): a slow level under fast counting noise.
GAUGES = ("ar1", "integer", "lognormal", "counts")


def gauge_windows(rng: np.random.Generator, n: int, phi: float, gauge: str = "ar1", slope: float = 0.0,
                  step_s: float = 2.0) -> list[tuple[float, float]]:
    """A gauge's windows of one of GAUGES for a trend: (time, value) every `step_s`, plus `slope` a second."""
    if gauge == "ar1":
        return ar1_windows(rng, n, phi, slope, step_s)
    e = np.array(ar1(rng, n, phi)) - 10.0
    if gauge == "integer":
        y = np.round(10 + 0.8 * e)
    elif gauge == "lognormal":
        y = 10 * np.exp(0.5 * e)
    elif gauge == "counts":
        y = rng.poisson(3 * np.exp(0.4 * e)).astype(float)
    else:
        raise ValueError(f"no gauge {gauge!r}: one of {GAUGES}")
    return [(i * step_s, float(v) + slope * i * step_s) for i, v in enumerate(y)]


def trend_rates(n: int, phi: float, alpha: float, reps: int, seed: int, allowed: float = 0.0,
                slope: float = 0.0, judge: Callable[..., object] | None = None,
                gauge: str = "ar1") -> tuple[int, int]:
    """(FAILs, PASSes) of `reps` trend comparisons (chaos.measure.trend.compare_trend, or `judge`
    with its signature): a flat baseline against a candidate climbing `slope` per second, with
    `allowed` per second allowed, both sides a `gauge` of GAUGES."""
    from chaos.measure.trend import compare_trend

    judge = judge or compare_trend
    rng = np.random.default_rng(seed)
    fails = passes = 0
    for _ in range(reps):
        d = judge([gauge_windows(rng, n, phi, gauge)], [gauge_windows(rng, n, phi, gauge, slope)], better="lower",
                  allowed=allowed, per_s=1.0, alpha=alpha, min_samples=4)
        fails += d.verdict == "FAIL"  # type: ignore[attr-defined]
        passes += d.verdict == "PASS"  # type: ignore[attr-defined]
    return fails, passes
