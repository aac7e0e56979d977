"""The long-run variance's autocovariances are statsmodels' `acovf`, computed for the lags used."""

from __future__ import annotations

import math

import numpy as np
import pytest
from statsmodels.tsa.stattools import acovf

from chaos.measure.longrun import MAX_R, mean_variance


def _reference(x: np.ndarray) -> float:
    """mean_variance's variance with every autocovariance from statsmodels, as it was first written."""
    n = len(x)
    gamma = acovf(x, demean=True, fft=False, nlag=n - 1)
    g0 = float(gamma[0])
    r = float(gamma[1]) / g0
    if r > 0:
        r += (1 + 3 * r) / n
        r += 0.5 * math.sqrt(max(1 - r * r, 0.0) / n)
    r = max(min(r, MAX_R), -MAX_R)
    alpha1 = 4 * r * r / ((1 - r) ** 2 * (1 + r) ** 2)
    lags = int(min(max(math.floor(1.1447 * (alpha1 * n) ** (1 / 3)), 0), n - 1))
    newey_west = g0 + 2 * sum((1 - k / (lags + 1)) * float(gamma[k]) for k in range(1, lags + 1))
    ar1 = g0 * (1 + r) / (1 - r) if r > 0 else g0
    return max(newey_west, ar1, g0 / n) / n


@pytest.mark.parametrize("n, phi", [(2, 0.0), (5, 0.5), (30, 0.7), (30, -0.4), (200, 0.95), (60, 0.0)])
def test_the_variance_is_the_one_statsmodels_autocovariances_give(n: int, phi: float) -> None:
    rng = np.random.default_rng(n)
    x = np.empty(n)
    x[0] = rng.normal()
    for t in range(1, n):
        x[t] = phi * x[t - 1] + rng.normal()
    x = np.exp(x)  # skewed, as latencies are
    assert mean_variance(list(x)).variance == pytest.approx(_reference(x), rel=1e-9)
