"""Quantile criteria from histogram buckets (chaos.measure.quantiles, through stats.compare).

Pure logic on generated bucket counts: the unit lane. The calibration of the interval on
wandering, skewed latencies is a row of tests/chaos/test_calibration.py.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from chaos.measure.quantiles import Buckets, _Aligned, estimate, level_of, point, pooled
from chaos.measure.stats import compare

BOUNDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, math.inf]


def _window(latencies: list[float] | np.ndarray) -> Buckets:
    """One window's cumulative bucket counts of these request latencies."""
    xs = np.asarray(latencies, dtype=float)
    return Buckets(bounds=BOUNDS, cumulative=[float((xs <= b).sum()) for b in BOUNDS])


def _phase(rng: np.random.Generator, windows: int, median: float, per_window: int = 40) -> list[Buckets]:
    return [_window(rng.lognormal(math.log(median), 0.5, per_window)) for _ in range(windows)]


def test_the_point_is_prometheus_histogram_quantile_of_the_summed_buckets() -> None:
    # 100 requests: 50 at or below 0.1, 90 at or below 0.25, 100 at or below 0.5.
    h = Buckets(bounds=[0.1, 0.25, 0.5, math.inf], cumulative=[50, 90, 100, 100])
    assert point(h, 0.5) == pytest.approx(0.1)
    assert point(h, 0.95) == pytest.approx(0.25 + 0.25 * 0.5)  # halfway through the (0.25, 0.5] bucket
    assert _Aligned([h]).below(0.175) == pytest.approx([70])  # the share the interval inverts, interpolated alike
    two = pooled([h, Buckets(bounds=[0.1, 0.25, 0.5, math.inf], cumulative=[0, 0, 100, 100])])
    assert two.cumulative == [50, 90, 200, 200]


def test_a_bound_one_window_lacks_holds_its_count_at_the_next_lower_bound() -> None:
    late = Buckets(bounds=[0.1, 1.0, math.inf], cumulative=[5, 10, 10])
    early = Buckets(bounds=[0.1, math.inf], cumulative=[3, 4])
    assert pooled([late, early]).cumulative == [8, 13, 14]


def test_a_quantile_in_the_inf_bucket_is_the_top_bound_with_an_interval_open_above() -> None:
    h = Buckets(bounds=[0.1, 1.0, math.inf], cumulative=[10, 50, 100])
    assert point(h, 0.95) == 1.0
    assert math.isinf(level_of(h, 0.95))
    e = estimate([h] * 10, 0.95, 1.96)
    assert e is not None and math.isinf(e.high) and math.isinf(e.se)


def test_a_wider_phase_of_the_same_latencies_is_not_a_regression() -> None:
    rng = np.random.default_rng(7)
    base, cand = _phase(rng, 30, 0.1), _phase(rng, 30, 0.1)
    d = compare(base, cand, better="lower", relative=0.2, alpha=0.05, quantile=0.95)
    assert d.verdict == "PASS", d.reason
    assert d.n_baseline == 30 * 40 and "q0.95" in d.method and "lag-1" in d.method


def test_a_doubled_latency_fails_and_the_effect_is_the_difference_of_the_pooled_quantiles() -> None:
    rng = np.random.default_rng(8)
    base, cand = _phase(rng, 30, 0.1), _phase(rng, 30, 0.2)
    d = compare(base, cand, better="lower", relative=0.2, alpha=0.05, quantile=0.95)
    assert d.verdict == "FAIL", d.reason
    pb, pc = point(pooled(base), 0.95), point(pooled(cand), 0.95)
    assert pb is not None and pc is not None
    assert d.effect == pytest.approx(pc - pb) and d.baseline == pytest.approx(pb)


def test_a_candidate_in_the_inf_bucket_can_fail_but_never_pass() -> None:
    rng = np.random.default_rng(9)
    base = _phase(rng, 30, 0.05)
    hung = [_window(np.full(40, 60.0)) for _ in range(30)]  # every request beyond the top bound
    d = compare(base, hung, better="lower", relative=0.2, alpha=0.05, quantile=0.95)
    assert d.verdict == "FAIL", d.reason
    assert "+Inf" in d.method
    # Compared the other way round the +Inf side is the baseline: its interval is open above, so
    # how much better the candidate is cannot be bounded — and a PASS is never given on it.
    hung_base = compare(hung, hung, better="lower", relative=0.2, alpha=0.05, quantile=0.95)
    assert hung_base.verdict != "PASS"


def test_a_window_with_nan_counts_is_missing_data_and_blocks_a_pass() -> None:
    rng = np.random.default_rng(10)
    base, cand = _phase(rng, 30, 0.1), _phase(rng, 30, 0.1)
    cand[4] = Buckets(bounds=BOUNDS, cumulative=[math.nan] * len(BOUNDS))
    d = compare(base, cand, better="lower", relative=0.2, alpha=0.05, quantile=0.95)
    assert d.verdict != "PASS" and d.left_out_candidate == 1
    assert "left out" in d.reason


def test_too_few_requests_is_inconclusive_and_histograms_need_q() -> None:
    rng = np.random.default_rng(11)
    few = _phase(rng, 2, 0.1, per_window=2)
    d = compare(few, few, better="lower", relative=0.2, quantile=0.95, min_samples=10)
    assert d.verdict == "INCONCLUSIVE" and "too few samples" in d.reason
    with pytest.raises(ValueError, match="quantile"):
        compare(few, few, better="lower")


def test_runs_as_units_when_each_side_has_two_or_more() -> None:
    rng = np.random.default_rng(12)
    base = [_phase(rng, 20, 0.1) for _ in range(3)]
    cand = [_phase(rng, 20, 0.3) for _ in range(3)]
    d = compare(base, cand, better="lower", relative=0.2, alpha=0.05, quantile=0.95)
    assert d.verdict == "FAIL" and "runs as units (3 and 3 runs)" in d.method
