"""Calibration of the gate's statistics on data shaped like real SLIs (tests/calibration_shapes.py):
skewed, heavy-tailed, autocorrelated, varying by run, overdispersed, tied.

For each shape, seeded, at alpha 0.05 (1,500 repetitions) and, for the hardest three, at
alpha 0.01 (6,000 repetitions: a method exactly at its target needs that many for the bound to
hold): the A/A false-block rate and the boundary false-pass rate (the true worsening exactly at
the allowance) must have a Clopper-Pearson upper 95% bound of at most 1.5 x alpha/2, the
one-tailed error the gate promises. A worsening of the shape's stated size (half of it allowed,
or for positive skewed values a ratio with 20% allowed) is detected at the shape's stated power,
80% unless it says why not (200 repetitions): the sizes needed say what these samples can see.
No stack: this is the unit lane. The low alphas a shipped policy really uses are printed by
bench/calibration.py.
"""

from __future__ import annotations

import zlib

import pytest

from tests.calibration_shapes import SHAPES, rates, upper_bound

HARDEST = ["lognormal sigma 1, n 10", "AR(1) phi 0.7, 1-s windows, n 30", "overdispersed counts, 60 windows of 10"]
CASES = [(name, 0.05, 1500) for name in SHAPES] + [(name, 0.01, 6000) for name in HARDEST]


def _seed(name: str, alpha: float) -> int:
    return zlib.crc32(f"{name}/{alpha}".encode())


@pytest.mark.parametrize("name,alpha,reps", CASES, ids=[f"{n} @ {a}" for n, a, _ in CASES])
def test_false_blocks_and_false_passes_stay_within_alpha(name: str, alpha: float, reps: int) -> None:
    shape, bound = SHAPES[name], 1.5 * alpha / 2
    blocks, _ = rates(shape, reps, alpha, _seed(name, alpha))
    _, passes = rates(shape, reps, alpha, _seed(name, alpha) + 1, boundary=True)
    assert upper_bound(blocks, reps) <= bound, f"{name}: {blocks} false blocks in {reps} at alpha {alpha}"
    assert upper_bound(passes, reps) <= bound, f"{name}: {passes} false passes in {reps} at alpha {alpha}"


@pytest.mark.parametrize("name", list(SHAPES))
def test_a_worsening_of_the_stated_size_is_detected(name: str) -> None:
    shape = SHAPES[name]
    detected, _ = rates(shape, 200, 0.05, _seed(name, 0.5), detect=True)
    assert detected / 200 >= shape.power, f"{name}: a worsening of {shape.shift} detected {detected} times in 200"
