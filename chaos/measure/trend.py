"""Is the candidate's SLI climbing faster than the baseline's? A trend comparison for resources that
accumulate (runs stuck, slots or connections held): a leak shows as a slope long before the
user-facing SLIs move.

Each run's per-window values get a least-squares line over time. Neighbouring windows of a gauge
are alike, so the slope's variance is not the textbook one: it is computed for AR(1) noise, with
the lag-1 autocorrelation of the line's residuals, bias-corrected (a fitted line takes out about
2 (1 + 3r) / n of it) and raised by half a standard error, as `chaos.measure.longrun` does for
means. statsmodels' HAC (Newey-West) interval was measured and rejected: at 12 to 50 windows it
gave 5 to 25 % one-sided false blocks where 2.5 % was due (`bench/calibration.py --part trend`).

With two or more runs a side, runs are the unit that repeats: the side's slope is the mean of its
runs' slopes, and its variance the larger of their spread and their own variances. The verdict
rules are `compare`'s: FAIL when the whole interval of the worsening is beyond the allowed one,
PASS when all of it is within (and no value was left out), INCONCLUSIVE otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel

from chaos.measure.longrun import MAX_R
from chaos.measure.stats import Decision, decided, detectable_worsening

#: One window: its time (seconds, any origin) and the SLI's value in it.
Point = tuple[float, float]
#: Windows a run needs for a line and a residual autocorrelation.
MIN_WINDOWS = 4


class Slope(BaseModel):
    """One side's slope (SLI units per second), its variance, degrees of freedom and windows."""

    slope: float
    variance: float
    df: float
    n: int
    lag1: float = 0.0
    runs: int = 1


def run_slope(points: Sequence[Point]) -> Slope:
    """The least-squares slope of one run's windows, with its variance under AR(1) noise."""
    import numpy as np

    t = np.array([p[0] for p in points], dtype=float)
    y = np.array([p[1] for p in points], dtype=float)
    n = len(y)
    x = np.column_stack([np.ones(n), t - t.mean()])
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    residual = y - x @ coef
    ss = float(residual @ residual)
    if np.all(y == y[0]):  # a gauge that never moved: flat, exactly (lstsq would say 1e-17)
        return Slope(slope=0.0, variance=0.0, df=float(n - 2), n=n)
    if ss <= 0:  # on a line exactly: the slope is known
        return Slope(slope=float(coef[1]), variance=0.0, df=float(n - 2), n=n)
    r = _lag1(float(residual[1:] @ residual[:-1]) / ss, n)
    # Windows are evenly spaced in time (missing ones aside): the AR(1) correlation by lag in windows.
    step = float(np.median(np.diff(t))) if n > 1 else 1.0
    lags = np.abs(np.subtract.outer(t, t)) / (step or 1.0)
    corr = np.power(r, lags) if r > 0 else np.eye(n)
    inv = np.linalg.inv(x.T @ x)
    middle = x.T @ corr @ x
    # E[residual'residual] = gamma0 x (n - trace((X'X)^-1 X'RX)): the line took some noise out too.
    gamma0 = ss / max(n - float(np.trace(inv @ middle)), 1.0)
    variance = float((gamma0 * inv @ middle @ inv)[1, 1])
    independent = gamma0 * float(inv[1, 1])
    n_eff = n * independent / variance if variance > 0 else float(n)
    return Slope(slope=float(coef[1]), variance=variance, df=max(min(n_eff, n) - 2, 1.0), n=n, lag1=r)


def _lag1(r_hat: float, n: int) -> float:
    """The residuals' lag-1 autocorrelation, bias-corrected for the fitted line and raised by half a
    standard error (calibrated in tests/chaos/test_trend.py); negative dependence is not credited."""
    r = r_hat
    for _ in range(20):  # a fixed point: converges in a few steps for n > 8
        r = max(min(r_hat + 2 * (1 + 3 * r) / n, MAX_R), -MAX_R)
    if r > 0:
        r += 0.5 * math.sqrt(max(1 - r * r, 0.0) / n)
    return max(min(r, MAX_R), 0.0)


def side_slope(runs: Sequence[Sequence[Point]]) -> Slope | None:
    """A side's slope over its runs (None when no run has MIN_WINDOWS windows at distinct times)."""
    slopes = [run_slope(r) for r in runs if len({t for t, _ in r}) >= MIN_WINDOWS]  # a line needs distinct times
    if not slopes:
        return None
    k = len(slopes)
    mean = sum(s.slope for s in slopes) / k
    within = sum(s.variance for s in slopes) / k / k
    n = sum(s.n for s in slopes)
    if k >= 2:
        between = sum((s.slope - mean) ** 2 for s in slopes) / (k - 1) / k
        if between > within:
            return Slope(slope=mean, variance=between, df=float(k - 1), n=n, runs=k)
    return Slope(slope=mean, variance=within, df=sum(s.df for s in slopes), n=n,
                 lag1=max(s.lag1 for s in slopes), runs=k)


def compare_trend(baseline: Sequence[Sequence[Point]], candidate: Sequence[Sequence[Point]], *,
                  better: Literal["higher", "lower"], allowed: float = 0.0, per_s: float = 60.0,
                  alpha: float = 0.05, min_samples: int = 10) -> Decision:
    """Decide whether the candidate's slope is worse than the baseline's by more than `allowed`
    (SLI units per `per_s` seconds); each side is its runs, each run its (time, value) windows."""
    from scipy.stats import t as student

    b_runs, b_out = _finite(baseline)
    c_runs, c_out = _finite(candidate)
    nb, nc = sum(map(len, b_runs)), sum(map(len, c_runs))
    method = (f"difference of least-squares slopes over the windows, per {per_s:g}s; a t interval on "
              "their variance under AR(1) noise")
    base = Decision(verdict="INCONCLUSIVE", reason="", method=method, confidence=1 - alpha, n_baseline=nb,
                    n_candidate=nc, left_out_baseline=b_out, left_out_candidate=c_out)
    missing = "" if not (b_out or c_out) else (
        f" ({b_out} baseline and {c_out} candidate values were NaN or infinite and left out)")
    sb, sc = side_slope(b_runs), side_slope(c_runs)
    if min(nb, nc) < max(min_samples, MIN_WINDOWS) or sb is None or sc is None:
        side = "baseline" if sb is None or nb < nc else "candidate"
        base.reason = (f"too few samples for a trend: the {side} has {min(nb, nc):g} windows, at least "
                       f"{max(min_samples, MIN_WINDOWS)} are needed (and {MIN_WINDOWS} in a run){missing}")
        return base
    sign = 1.0 if better == "lower" else -1.0
    effect = sign * (sc.slope - sb.slope) * per_s + 0.0
    variance = sb.variance + sc.variance
    if variance > 0:
        df = variance ** 2 / (sb.variance ** 2 / sb.df + sc.variance ** 2 / sc.df)
        half = float(student.ppf(1 - alpha / 2, df)) * math.sqrt(variance) * per_s
    else:
        half = 0.0
    lo, hi = effect - half, effect + half
    unit = "runs as units" if min(sb.runs, sc.runs) >= 2 else "one run a side"
    base.method = (f"{method} (lag-1 autocorrelation of the residuals {sb.lag1:.2f} and {sc.lag1:.2f}, "
                   f"bias-corrected; {unit})")
    d = base.model_copy(update=dict(baseline=sb.slope * per_s, candidate=sc.slope * per_s, effect=effect, low=lo,
                                    high=hi, allowed=allowed,
                                    detectable=detectable_worsening(lo, hi, allowed, alpha)))
    span = (f"climbs faster by {effect:.4g} per {per_s:g}s ({lo:.4g} to {hi:.4g}, {100 * (1 - alpha):.4g}% "
            f"interval; baseline {d.baseline:.4g}, candidate {d.candidate:.4g})")
    return decided(d, span, missing, "a longer fault phase would tell")


def _finite(runs: Sequence[Sequence[Point]]) -> tuple[list[list[Point]], int]:
    """Each run's finite windows, and how many were left out (NaN, inf: missing data, never zero)."""
    kept = [[(float(t), float(v)) for t, v in run if math.isfinite(t) and math.isfinite(v)] for run in runs]
    return kept, sum(map(len, runs)) - sum(map(len, kept))
