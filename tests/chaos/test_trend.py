"""The trend comparison (chaos.measure.trend): calibrated on autocorrelated gauges, as a held
resource's windows are, and able to see a leak while it is small. No stack: the unit lane.

A/A: both sides AR(1) noise around a flat level (or that noise as a gauge really gives it: whole
units, a skewed lognormal level; tests/calibration_shapes.GAUGES), seeded; the one-sided
false-block rate and the boundary false-pass rate (a true slope difference exactly at the allowance) must have a
Clopper-Pearson upper 95 % bound of at most 1.5 x alpha/2, as in test_calibration.py.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from chaos.measure.trend import compare_trend, run_slope
from tests.calibration_shapes import GAUGES, ar1_windows, trend_rates, upper_bound


def _ar1(rng: np.random.Generator, n: int, phi: float, slope: float = 0.0) -> list[tuple[float, float]]:
    return ar1_windows(rng, n, phi, slope)


def _rates(n: int, phi: float, alpha: float, reps: int, seed: int, allowed: float = 0.0,
           slope: float = 0.0) -> tuple[int, int]:
    return trend_rates(n, phi, alpha, reps, seed, allowed, slope)


#: AR(1) noise as it is; and as gauges of held resources give it (whole slots, a skewed level) at the
#: lengths a fault phase gives (25 windows; 40 for a longer phase), lag-1 0.7. Poisson counts around a
#: wandering rate are not here: the AR(1) model reads their fast counting noise as weak dependence and
#: blocks about 1.5 times as often as it should (bench/calibration.py --part trend; docs/guides/gate.md).
CASES = ([("ar1", n, phi, 0.05, 1500) for n in (12, 25) for phi in (0.0, 0.5, 0.7)] + [("ar1", 25, 0.7, 0.01, 6000)]
         + [(g, n, 0.7, 0.05, 1500) for g in ("integer", "lognormal") for n in (25, 40)])


@pytest.mark.parametrize("gauge,n,phi,alpha,reps", CASES, ids=[f"{g} n{n} phi{p} @ {a}" for g, n, p, a, _ in CASES])
def test_flat_sides_rarely_block_and_a_slope_at_the_allowance_rarely_passes(gauge: str, n: int, phi: float,
                                                                            alpha: float, reps: int) -> None:
    bound = 1.5 * alpha / 2
    seed = n * 100 + int(phi * 10) + 1000 * GAUGES.index(gauge)  # the AR(1) rows keep their first seeds
    blocks, _ = trend_rates(n, phi, alpha, reps, seed, gauge=gauge)
    # The boundary: the candidate climbs exactly as fast as allowed (0.05 per second, about the
    # noise's sd per 10 windows).
    _, passes = trend_rates(n, phi, alpha, reps, seed + 1, allowed=0.05, slope=0.05, gauge=gauge)
    assert upper_bound(blocks, reps) <= bound, f"{blocks} false blocks in {reps}"
    assert upper_bound(passes, reps) <= bound, f"{passes} false passes in {reps}"


def test_a_leak_is_caught_while_it_is_small() -> None:
    # 25 two-second windows of lag-1 0.5 noise (sd 1.15), at the gate's low alphas: a climb of 0.5
    # per second (25 over the phase) is caught 80 % of the time or more. A 0.3 climb is caught about
    # two times in three (measured: 0.67): 25 windows this dependent are worth about six, and a
    # t quantile on that few degrees of freedom is wide. The leaks the gate is for are plainer: a
    # gauge of stuck runs is flat in a good release (see the staircase below).
    fails, _ = _rates(25, 0.5, 0.0025, 200, seed=7, slope=0.5)
    assert fails / 200 >= 0.8, f"caught {fails} of 200"


def test_a_staircase_of_stuck_runs_against_a_gauge_that_never_moved_fails() -> None:
    # runstack_telemetry_stuck under a release that hangs for a few projects: 0, then one more
    # stuck run every few seconds; the stable release never has one.
    flat = [[(2.0 * i, 0.0) for i in range(12)]]
    stairs = [[(2.0 * i, float(i // 3)) for i in range(12)]]
    d = compare_trend(flat, stairs, better="lower", allowed=1.0, per_s=60.0, alpha=0.0025)
    assert d.verdict == "FAIL", d
    assert d.candidate is not None and 8 < d.candidate < 12  # one per 6 s: 10 a minute
    assert "AR(1)" in d.method and "per 60s" in d.reason
    same = compare_trend(flat, flat, better="lower", allowed=1.0, per_s=60.0, alpha=0.0025)
    assert same.verdict == "PASS" and same.effect == 0 and same.low == same.high == 0, same


def test_non_finite_values_are_missing_and_never_pass() -> None:
    flat = [[(2.0 * i, 1.0 + 0.1 * (i % 2)) for i in range(12)]]
    holed = [[(t, math.nan if i == 3 else v) for i, (t, v) in enumerate(flat[0])]]
    d = compare_trend(flat, holed, better="lower", allowed=10.0, alpha=0.05)
    assert d.verdict == "INCONCLUSIVE" and d.left_out_candidate == 1 and "NaN or infinite" in d.reason, d
    assert d.n_candidate == 11


def test_too_few_windows_is_inconclusive_naming_the_side() -> None:
    d = compare_trend([[(0.0, 1.0), (2.0, 1.0)]], [[(2.0 * i, 1.0) for i in range(12)]], better="lower")
    assert d.verdict == "INCONCLUSIVE" and "baseline" in d.reason and "too few" in d.reason, d


def test_runs_that_repeat_are_the_unit() -> None:
    rng = np.random.default_rng(3)
    # Each run of the candidate climbs at its own rate: their spread, not the windows', decides.
    base = [_ar1(rng, 15, 0.3) for _ in range(3)]
    cand = [_ar1(rng, 15, 0.3, slope=s) for s in (0.0, 0.4, 0.05)]
    d = compare_trend(base, cand, better="lower", per_s=1.0, alpha=0.05)
    assert "runs as units" in d.method, d
    assert d.verdict != "PASS"


def test_a_line_through_evenly_spaced_windows_has_the_textbook_slope() -> None:
    s = run_slope([(float(t), 3.0 + 0.5 * t + (0.1 if t % 2 else -0.1)) for t in range(20)])
    assert abs(s.slope - 0.5) < 0.01 and s.variance > 0 and s.n == 20


def test_windows_at_one_time_have_no_slope_and_say_so() -> None:
    same_time = [[(5.0, float(v)) for v in range(12)]]
    d = compare_trend(same_time, [[(2.0 * i, 1.0) for i in range(12)]], better="lower")
    assert d.verdict == "INCONCLUSIVE" and "too few" in d.reason, d
