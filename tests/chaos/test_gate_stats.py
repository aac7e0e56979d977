"""The gate's statistics as pure functions: the cases release gates get wrong, and calibration on
generated data (false-block and detection rates, with and without fail-fast looks)."""

from __future__ import annotations

import numpy as np
import pytest

# The documented import path (docs/architecture.md: the module lives in chaos.measure, re-exported here).
from chaos.gate.stats import Counts, compare

ALPHA = 0.05


def test_kayentas_counter_example_never_passes() -> None:
    # A canary 70x worse on average, whose rank test was "not significant": Kayenta passed it.
    d = compare([1.0] * 10, [100.0, 1.0, 100.0, 100.0, 1.0, 100.0, 100.0, 1.0, 100.0, 100.0], better="lower",
                relative=0.2, floor=1.0)
    assert d.verdict == "FAIL", d
    assert d.effect > 20 and d.low > d.allowed
    # The same windows in one block (seven slow seconds, then three fast): a time series this
    # dependent is worth about two values, so it cannot be told; it is still never a PASS.
    block = compare([1.0] * 10, [100.0] * 7 + [1.0] * 3, better="lower", relative=0.2, floor=1.0)
    assert block.verdict == "INCONCLUSIVE" and "lag-1 autocorrelation" in block.method


def test_no_baseline_data_is_inconclusive() -> None:
    d = compare([], [5.0] * 20, better="lower", floor=1.0)
    assert d.verdict == "INCONCLUSIVE" and "baseline has 0" in d.reason
    d = compare(Counts(good=0, total=0), Counts(good=100, total=100), better="higher", floor=0.05)
    assert d.verdict == "INCONCLUSIVE"


def test_constant_identical_samples_give_one_deterministic_verdict() -> None:
    verdicts = {compare([3.0] * 12, [3.0] * 12, better="lower", floor=0.5, seed=s).model_dump_json()
                for s in range(5)}
    assert len(verdicts) == 1, "no random jitter: the same data gives the same verdict, whatever the seed"
    d = compare([3.0] * 12, [3.0] * 12, better="lower", floor=0.5)
    assert d.verdict == "PASS" and d.low == d.high == 0.0


def test_same_data_and_seed_give_the_same_interval() -> None:
    rng = np.random.default_rng(7)
    base, cand = list(rng.normal(50, 5, 20)), list(rng.normal(52, 5, 20))
    first = compare(base, cand, better="lower", relative=0.1, seed=3)
    assert compare(base, cand, better="lower", relative=0.1, seed=3) == first


def test_a_small_rise_under_the_floor_passes() -> None:
    base = [5.0, 4.0, 6.0, 5.0, 5.0, 6.0, 4.0, 5.0, 5.0, 6.0]
    d = compare(base, [x + 5 for x in base], better="lower", relative=0.0, floor=20.0)
    assert d.verdict == "PASS", d  # 5 -> 10 ms with a 20 ms floor


def test_a_large_rise_beyond_the_relative_allowance_fails() -> None:
    base = [50.0, 48.0, 52.0, 50.0, 51.0, 49.0, 50.0, 50.0, 52.0, 48.0]
    d = compare(base, [x + 25 for x in base], better="lower", relative=0.10)
    # 50 -> 75 ms, 10% allowed; positive values are compared as geometric means.
    assert d.verdict == "FAIL" and d.scale == "log" and abs(d.effect - 25) < 0.05


def test_zero_errors_in_five_against_zero_in_five_is_too_few_not_pass() -> None:
    d = compare(Counts(good=5, total=5), Counts(good=5, total=5), better="higher", relative=0.02)
    assert d.verdict == "INCONCLUSIVE" and "too few samples" in d.reason


def test_direction_follows_the_sli() -> None:
    lower_is_better = compare([10.0, 11.0] * 5, [20.0, 21.0] * 5, better="lower", floor=1.0)
    higher_is_better = compare([10.0, 11.0] * 5, [20.0, 21.0] * 5, better="higher", floor=1.0)
    assert lower_is_better.verdict == "FAIL" and higher_is_better.verdict == "PASS"
    drop = compare(Counts(good=990, total=1000), Counts(good=700, total=1000), better="higher", floor=0.05)
    assert drop.verdict == "FAIL" and abs(drop.effect - 0.29) < 1e-9


def _rates(make, reps: int, looks: int, alpha: float, seed: int, floor: float) -> tuple[float, float]:
    """(share of FAIL, share of PASS) over `reps` generated gates; with looks > 1, a FAIL at any
    interim look (each at alpha/2/looks, the final at alpha/2) counts: fail-fast as the gate does it."""
    rng = np.random.default_rng(seed)
    fails = passes = 0
    for rep in range(reps):
        base, cand = make(rng)
        verdict = None
        if looks > 1:
            for k in range(1, looks + 1):
                part = cand[: max(1, len(cand) * k // (looks + 1))] if not isinstance(cand, Counts) else None
                if part is None:
                    part = Counts(good=round(cand.good * k / (looks + 1)), total=round(cand.total * k / (looks + 1)))
                if compare(base, part, better="lower" if not isinstance(base, Counts) else "higher", floor=floor,
                           alpha=alpha / 2 / looks, min_samples=5, seed=rep).verdict == "FAIL":
                    verdict = "FAIL"
                    break
        if verdict is None:
            final_alpha = alpha / 2 if looks > 1 else alpha
            verdict = compare(base, cand, better="lower" if not isinstance(base, Counts) else "higher",
                              floor=floor, alpha=final_alpha, min_samples=5, seed=rep).verdict
        fails += verdict == "FAIL"
        passes += verdict == "PASS"
    return fails / reps, passes / reps



def test_calibration_latencies_false_blocks_and_detection() -> None:
    """A/A with no allowance at all (the hardest case for false blocks): the false-block rate is at or
    below alpha/2 (one tail); a regression of 2.5 standard deviations is detected almost always."""
    aa = lambda rng: (list(rng.lognormal(3.0, 0.3, 20)), list(rng.lognormal(3.0, 0.3, 20)))  # noqa: E731
    false_block, _ = _rates(aa, reps=400, looks=1, alpha=ALPHA, seed=1, floor=0.0)
    false_block_ff, _ = _rates(aa, reps=200, looks=5, alpha=ALPHA, seed=2, floor=0.0)
    bad = lambda rng: (list(rng.normal(20, 2, 20)), list(rng.normal(27, 2, 20)))  # noqa: E731
    detected, _ = _rates(bad, reps=200, looks=1, alpha=ALPHA, seed=3, floor=2.0)
    detected_ff, _ = _rates(bad, reps=100, looks=5, alpha=ALPHA, seed=4, floor=2.0)
    print(f"\nlatencies: A/A false blocks {false_block:.3f} (fail-fast {false_block_ff:.3f}) at alpha {ALPHA}; "
          f"a +7 ms (3.5 sd, 2 ms floor) regression detected {detected:.3f} (fail-fast {detected_ff:.3f})")
    # Margins: the expected rates are ~0.025 and ~1.0; these bounds hold for any seed in practice.
    assert false_block <= 0.06 and false_block_ff <= 0.06
    assert detected >= 0.9 and detected_ff >= 0.9


def test_calibration_error_ratios_false_blocks_and_detection() -> None:
    aa = lambda rng: (Counts(good=rng.binomial(500, 0.95), total=500),  # noqa: E731
                      Counts(good=rng.binomial(500, 0.95), total=500))
    false_block, _ = _rates(aa, reps=400, looks=1, alpha=ALPHA, seed=5, floor=0.0)
    false_block_ff, _ = _rates(aa, reps=200, looks=5, alpha=ALPHA, seed=6, floor=0.0)
    bad = lambda rng: (Counts(good=rng.binomial(500, 0.98), total=500),  # noqa: E731
                       Counts(good=rng.binomial(500, 0.88), total=500))
    detected, _ = _rates(bad, reps=200, looks=1, alpha=ALPHA, seed=7, floor=0.02)
    detected_ff, _ = _rates(bad, reps=100, looks=5, alpha=ALPHA, seed=8, floor=0.02)
    print(f"\nratios: A/A false blocks {false_block:.3f} (fail-fast {false_block_ff:.3f}) at alpha {ALPHA}; "
          f"a 98% -> 88% success drop (2-point floor) detected {detected:.3f} (fail-fast {detected_ff:.3f})")
    assert false_block <= 0.06 and false_block_ff <= 0.06
    assert detected >= 0.9 and detected_ff >= 0.9


def test_non_finite_values_are_missing_data_and_never_give_a_pass() -> None:
    base = [10.0, 11.0, 9.0, 10.0, 10.5, 9.5, 10.0, 11.0, 9.0, 10.0]
    with_inf = compare([*base, float("inf")], [x + 0.1 for x in base], better="lower", relative=0.5)
    assert with_inf.verdict == "INCONCLUSIVE" and with_inf.n_baseline == 10 and with_inf.left_out_baseline == 1
    assert "1 baseline and 0 candidate values were NaN or infinite" in with_inf.reason
    nan = compare(base, [*base, float("nan"), float("-inf")], better="lower", relative=0.5)
    assert nan.verdict == "INCONCLUSIVE" and nan.n_candidate == 10 and nan.left_out_candidate == 2
    few = compare([float("nan")] * 20, base, better="lower")
    assert few.verdict == "INCONCLUSIVE" and "baseline has 0" in few.reason and "20 baseline" in few.reason
    worse = compare([*base, float("nan")], [x * 3 for x in base], better="lower", relative=0.1)
    assert worse.verdict == "FAIL", "the finite values alone show it worse"


def test_per_window_counts_are_not_known_exactly_from_zero_errors() -> None:
    clean = [Counts(good=4, total=4)] * 10  # 0 errors in 40 events a side
    d = compare(clean, clean, better="higher", floor=0.02, min_samples=10)
    assert d.verdict == "INCONCLUSIVE" and "ratios of per-window counts" in d.method, d
    many = [Counts(good=100, total=100)] * 30
    assert compare(many, many, better="higher", floor=0.02).verdict == "PASS"
    worse = [Counts(good=80, total=100)] * 30
    assert compare(many, worse, better="higher", floor=0.05).verdict == "FAIL"


def test_runs_are_the_unit_when_each_side_has_two_or_more() -> None:
    runs = [[10.0, 10.5, 9.5, 10.0, 10.2], [12.0, 12.5, 11.5, 12.0, 12.2], [8.0, 8.5, 7.5, 8.0, 8.2]]
    d = compare(runs, runs, better="lower", floor=0.5, min_samples=5)
    assert "runs as units (3 and 3 runs)" in d.method and d.verdict == "INCONCLUSIVE", d
    one = compare(runs[:1], runs[:1], better="lower", floor=0.5, min_samples=5)
    assert "windows as one time series" in one.method
    clean = [[Counts(good=4, total=4)] * 10] * 2  # two runs a side, 0 errors in 80 events
    zero = compare(clean, clean, better="higher", floor=0.02, min_samples=10)
    assert "runs as units" in zero.method and zero.verdict == "INCONCLUSIVE", zero


def test_an_interval_too_wide_to_exponentiate_is_infinite_not_an_error() -> None:
    base = [1.0, 1e300, 1.0, 1e-300, 1.0, 1e300, 1e-300, 1.0, 1e300, 1.0]
    d = compare(base, list(reversed(base)), better="lower", relative=0.1, min_samples=5)
    assert d.verdict == "INCONCLUSIVE" and d.scale == "log"


def test_a_degradation_that_grows_during_the_phase_is_seen_by_the_independent_method_only() -> None:
    # The known limit of the time-series method, and why the gate still judges with "independent":
    # a fault phase that degrades step by step reads as a strongly dependent series.
    base = [Counts(good=10, total=10)] * 9
    fault = [Counts(good=10, total=10)] * 8 + [Counts(good=2, total=10)] * 17
    ts = compare(base, fault, better="higher", floor=0.02, alpha=0.0042, min_samples=5)
    ind = compare(base, fault, better="higher", floor=0.02, alpha=0.0042, min_samples=5, method="independent")
    assert ts.verdict == "INCONCLUSIVE" and ind.verdict == "FAIL", (ts, ind)
    assert "Newcomb" in ind.method


@pytest.mark.parametrize("method", ["time-series", "independent"])
def test_values_at_the_ends_of_the_float_range_neither_crash_nor_warn_nor_look_certain(method) -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # scipy's and numpy's warnings must not reach a user
        huge = compare([1e308] * 6, [1e308] * 6, better="lower", relative=0.1, min_samples=3, method=method)
        assert huge.verdict == "PASS" and huge.effect == 0, huge
        # (1e-300)^2 underflows to 0: without rescaling, a variance of exactly 0 read a tiny rise as certain.
        tiny = compare([0.0] * 10, [0.0] * 9 + [1e-300], better="lower", min_samples=3, method=method)
        assert tiny.verdict == "INCONCLUSIVE" and tiny.low is not None and tiny.low <= 0 < tiny.high, tiny
        near_constant = compare([1.0] * 19 + [0.0], [1.0] * 20, better="higher", floor=0.1, min_samples=3,
                                method=method)
        assert near_constant.verdict in ("PASS", "INCONCLUSIVE"), near_constant


def test_the_detectable_worsening_is_caught_about_as_often_as_its_stated_power() -> None:
    from chaos.measure.stats import POWER

    rng = np.random.default_rng(7)

    def decide(shift: float):
        return compare(list(rng.normal(10, 1, 60)), list(rng.normal(10 + shift, 1, 60)), better="lower",
                       floor=0.2, alpha=0.01, min_samples=10)

    sizes = [decide(0.0).detectable for _ in range(20)]
    assert all(s is not None and s > 0.2 for s in sizes), sizes
    detectable = float(np.median([s for s in sizes if s is not None]))
    caught = sum(decide(detectable).verdict == "FAIL" for _ in range(400)) / 400
    # 400 draws: the rate's standard error is 0.02; the size is a normal approximation of a t interval.
    assert abs(caught - POWER) < 0.08, (detectable, caught)


def test_fail_fast_spends_its_budget_only_on_looks_that_decide_and_never_more_than_it() -> None:
    from chaos.gate.verdict import Spending

    spending = Spending(0.005)
    key = ("runs stay healthy", "e")
    used = []
    for k in range(1, 26):  # 25 one-second looks; the first 9 have too few samples to decide
        level = spending.available(key, k / 25)
        assert level > 0
        if k >= 10:
            used.append(level)
            spending.spend(key, k / 25)
    assert used[0] == pytest.approx(0.005 * 10 / 25), "the undecided looks' share goes to the first that decides"
    assert sum(used) == pytest.approx(0.005) and spending.available(key, 1.0) == 0
    assert spending.available(("other", "e"), 0.2) == pytest.approx(0.001), "each pair has its own budget"
