"""The variance of a mean of a time series whose neighbouring values are alike.

A gate's per-window values are a time series: one slow second is followed by another. Treating
them as independent makes an interval several times too narrow (with lag-1 autocorrelation 0.7,
the variance of the mean is 5.7 times the independent one), and the gate blocks one A/A release
in five instead of one in forty. The long-run variance is estimated two ways and the larger is
kept, because at the sample sizes a gate sees (10 to 100 windows) each alone is too small:

- Newey-West (Bartlett kernel) with Andrews' (1991) AR(1) plug-in bandwidth, the usual HAC;
- the AR(1) long-run variance gamma0 (1 + r) / (1 - r), with r's small-sample bias corrected
  (E[r_hat] ~ r - (1 + 3r) / n, Kendall 1954) and then raised by half its standard error: at
  n = 30 the raw estimate of 0.7 is about 0.6, and that alone doubled the false-block rate.

The effective sample size n gamma0 / lrv sets the degrees of freedom of the t interval built on it.
Autocovariances are statsmodels' `acovf(demean=True)`, computed directly for the few lags used
(tests/chaos/test_longrun.py holds the two to each other).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from pydantic import BaseModel

#: The lag-1 autocorrelation is clipped to this: beyond it a series carries almost no information.
MAX_R = 0.97


class MeanVariance(BaseModel):
    """A series' mean, the variance of that mean, and how many independent values it is worth."""

    mean: float
    variance: float
    n: int
    n_eff: float
    lag1: float


def mean_variance(values: Sequence[float]) -> MeanVariance:
    """The mean of a time-ordered series and its dependence-aware variance."""
    import numpy as np

    x = np.asarray(values, dtype=float)
    n = len(x)
    mean = float(x.mean()) if n else math.nan
    if n < 2:
        return MeanVariance(mean=mean, variance=math.inf if n == 0 else 0.0, n=n, n_eff=float(n), lag1=0.0)
    d = x - mean

    def gamma(k: int) -> float:
        # acovf's lag k: this runs some 160 times per quantile comparison (an interval's bisection),
        # where acovf's per-call setup, for all n lags, was a quarter of the comparison's time.
        return float(np.dot(d[: n - k], d[k:])) / n

    g0 = gamma(0)
    if g0 <= 0:
        return MeanVariance(mean=mean, variance=0.0, n=n, n_eff=float(n), lag1=0.0)
    r = gamma(1) / g0
    if r > 0:
        # Bias-corrected, then half a standard error up: with r as noisy as it is at n = 30, the
        # point estimate gave twice the error rate at alpha 0.01 (calibrated in bench/calibration.py).
        r += (1 + 3 * r) / n
        r += 0.5 * math.sqrt(max(1 - r * r, 0.0) / n)
    r = max(min(r, MAX_R), -MAX_R)
    alpha1 = 4 * r * r / ((1 - r) ** 2 * (1 + r) ** 2)
    lags = int(min(max(math.floor(1.1447 * (alpha1 * n) ** (1 / 3)), 0), n - 1))
    newey_west = g0 + 2 * sum((1 - k / (lags + 1)) * gamma(k) for k in range(1, lags + 1))
    ar1 = g0 * (1 + r) / (1 - r) if r > 0 else g0
    lrv = max(newey_west, ar1, g0 / n)
    return MeanVariance(mean=mean, variance=lrv / n, n=n, n_eff=n * g0 / lrv, lag1=r)


def welch_df(a: MeanVariance, b: MeanVariance) -> float:
    """Welch-Satterthwaite degrees of freedom of a difference of two means, on effective sizes."""
    num = (a.variance + b.variance) ** 2
    den = sum(v.variance ** 2 / max(v.n_eff - 1, 1.0) for v in (a, b))
    return num / den if den > 0 else max(a.n_eff + b.n_eff - 2, 1.0)
