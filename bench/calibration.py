"""The gate statistics' error rates on data shaped like real SLIs, at the alphas policies really use.

For each shape of tests/calibration_shapes.py and each alpha: the A/A false-block rate, the
boundary false-pass rate (the true worsening exactly at the allowance), both with their
Clopper-Pearson upper 95% bound, against the target alpha/2; and the detection rate of the shape's
stated worsening. The unit lane checks the 0.05 and 0.01 rows; the 0.0025 rows (what ten
Bonferroni-corrected comparisons at 0.05 give each one, as gates/pre-promotion.yaml does) need too
many repetitions for it. Prints figures; asserts nothing.

    .venv/bin/python bench/calibration.py [--reps N] [--alpha 0.05 --alpha 0.0025 ...] [--only TEXT]
                                          [--part shapes|failfast|trend|all]

`--part failfast`: whole A/A gates with fail-fast (AR(1) phi 0.7 windows, 60 baseline, 30 looks
at one per window, the gate's spending), the false-block rate for each method of `compare`.

`--part trend`: A/A trend comparisons (chaos.measure.trend: a flat gauge on both sides, AR(1)
windows, and at 25 and 40 windows the gauges of tests/calibration_shapes.GAUGES) and the
boundary (the candidate climbing exactly as fast as allowed), beside the peer the issue suggested,
statsmodels' OLS slope with a HAC (Newey-West) covariance and t on n - 2.

The "before" column is what issue 20 measured with the previous method (BCa bootstrap over windows
taken as independent; pooled counts with Newcomb's interval) where it measured that row.
"""

from __future__ import annotations

import argparse
import sys
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.calibration_shapes import (  # noqa: E402 - after the path is set
    GAUGES,
    SHAPES,
    failfast_rate,
    rates,
    trend_rates,
    upper_bound,
)

#: False-block rates issue 20 measured before this method, by (shape, alpha).
BEFORE = {("lognormal sigma 1, n 10", 0.0025): 0.020, ("lognormal sigma 1, n 20", 0.0025): 0.016,
          ("Pareto 1.5, n 40", 0.05): 0.10, ("AR(1) phi 0.7, 1-s windows, n 30", 0.05): 0.21,
          ("AR(1) phi 0.7, 1-s windows, n 60", 0.05): 0.21}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=0, help="repetitions per rate (default: 60 / alpha)")
    ap.add_argument("--alpha", type=float, action="append", help="repeatable (default: 0.05, 0.01, 0.0025)")
    ap.add_argument("--only", default="", help="only shapes whose name contains this")
    ap.add_argument("--part", choices=["shapes", "failfast", "trend", "all"], default="all")
    args = ap.parse_args()
    if args.part in ("shapes", "all"):
        shapes(args)
    if args.part in ("failfast", "all"):
        failfast(args)
    if args.part in ("trend", "all"):
        trend(args)


def hac_trend(baseline, candidate, *, better, allowed, per_s, alpha, min_samples):  # type: ignore[no-untyped-def]
    """The peer: each side's OLS slope with statsmodels' HAC covariance (Newey-West, the usual
    bandwidth floor(4 (n/100)^(2/9)), small-sample corrected), a t interval on n - 2 per side."""
    import math

    import numpy as np
    import statsmodels.api as sm
    from scipy.stats import t as student

    from chaos.measure.stats import Decision

    fits = []
    for runs in (baseline, candidate):
        t = np.array([p[0] for p in runs[0]], dtype=float)
        y = np.array([p[1] for p in runs[0]], dtype=float)
        lags = int(4 * (len(y) / 100) ** (2 / 9))
        fit = sm.OLS(y, sm.add_constant(t)).fit(cov_type="HAC", cov_kwds={"maxlags": max(lags, 1),
                                                                            "use_correction": True})
        fits.append((float(fit.params[1]), float(fit.bse[1]) ** 2, len(y) - 2))
    (sb, vb, db), (sc, vc, dc) = fits
    sign = 1.0 if better == "lower" else -1.0
    effect, variance = sign * (sc - sb), vb + vc
    df = variance ** 2 / (vb ** 2 / db + vc ** 2 / dc)
    half = float(student.ppf(1 - alpha / 2, df)) * math.sqrt(variance)
    verdict = "FAIL" if effect - half > allowed else "PASS" if effect + half <= allowed else "INCONCLUSIVE"
    return Decision(verdict=verdict, reason="", method="HAC", confidence=1 - alpha)


def trend(args: argparse.Namespace) -> None:
    """Trend comparisons' A/A false blocks and boundary false passes: chaosgate's AR(1) slope
    variance against statsmodels' HAC."""
    print(f"\n{'trend, gauge windows':30} {'alpha':>7} {'target':>8} {'method':>9} {'false block (ub)':>18} "
          f"{'false pass (ub)':>17} {'reps':>6} {'s':>5}")
    # AR(1) noise as it is over every length and dependence; the gauges a held resource really
    # gives (whole units, a skewed level, counts around a wandering rate) where a phase's lengths are.
    grid = [("AR(1)", "ar1", n, phi) for n in (12, 25, 50) for phi in (0.0, 0.5, 0.7, 0.9)]
    grid += [(g, g, n, phi) for g in GAUGES if g != "ar1" for n in (25, 40) for phi in (0.5, 0.7)]
    for alpha in args.alpha or [0.05, 0.01]:
        reps = args.reps or int(60 / alpha)
        for label_g, gauge, n, phi in grid:
            name = f"{label_g}, n {n}, phi {phi}"
            if args.only not in name:
                continue
            for label, judge in (("chaosgate", None), ("HAC", hac_trend)):
                t0 = time.perf_counter()
                # The AR(1) rows keep the seeds they were first measured with.
                seed = zlib.crc32(f"trend/{name.removeprefix('AR(1), ')}/{alpha}".encode())
                blocks, _ = trend_rates(n, phi, alpha, reps, seed, judge=judge, gauge=gauge)
                _, passes = trend_rates(n, phi, alpha, reps, seed + 1, allowed=0.05, slope=0.05, judge=judge,
                                        gauge=gauge)
                print(f"{name:30} {alpha:>7g} {alpha / 2:>8.5f} {label:>9} {blocks / reps:>9.5f} "
                      f"({upper_bound(blocks, reps):.5f}) {passes / reps:>8.5f} ({upper_bound(passes, reps):.5f}) "
                      f"{reps:>6} {time.perf_counter() - t0:>5.0f}", flush=True)


def failfast(args: argparse.Namespace) -> None:
    """Fail-fast A/A gates: false blocks over looks and the final comparison, by method."""
    print(f"\n{'fail-fast, AR(1) phi 0.7, 60 + 30 looks':42} {'alpha':>7} {'target':>8} {'false block (ub)':>18} "
          f"{'before':>7} {'method':>12} {'reps':>6} {'s':>5}")
    for alpha in args.alpha or [0.05, 0.01]:
        reps = args.reps or int(20 / alpha)
        for method in ("independent", "time-series"):
            t0 = time.perf_counter()
            blocks = failfast_rate(method, reps, alpha, zlib.crc32(f"failfast/{alpha}".encode()))
            before = 0.28 if alpha == 0.05 and method == "independent" else None
            print(f"{'':42} {alpha:>7g} {alpha / 2:>8.5f} {blocks / reps:>9.5f} ({upper_bound(blocks, reps):.5f}) "
                  f"{'' if before is None else f'{before:.3f}':>7} {method:>12} {reps:>6} "
                  f"{time.perf_counter() - t0:>5.0f}", flush=True)


def shapes(args: argparse.Namespace) -> None:
    """Each shape's A/A false blocks, boundary false passes and detection, at each alpha."""
    print(f"{'shape':42} {'alpha':>7} {'target':>8} {'false block (ub)':>18} {'before':>7} "
          f"{'false pass (ub)':>17} {'detects':>8} {'reps':>6} {'s':>5}")
    for alpha in args.alpha or [0.05, 0.01, 0.0025]:
        reps = args.reps or int(60 / alpha)
        for name, shape in SHAPES.items():
            if args.only not in name:
                continue
            t0 = time.perf_counter()
            seed = zlib.crc32(f"{name}/{alpha}/bench".encode())
            blocks, _ = rates(shape, reps, alpha, seed)
            _, passes = rates(shape, reps, alpha, seed + 1, boundary=True)
            detected, _ = rates(shape, 200, alpha, seed + 2, detect=True)
            before = BEFORE.get((name, alpha))
            print(f"{name:42} {alpha:>7g} {alpha / 2:>8.5f} {blocks / reps:>9.5f} ({upper_bound(blocks, reps):.5f}) "
                  f"{'' if before is None else f'{before:.3f}':>7} {passes / reps:>8.5f} ({upper_bound(passes, reps):.5f}) "
                  f"{detected / 200:>8.2f} {reps:>6} {time.perf_counter() - t0:>5.0f}", flush=True)


if __name__ == "__main__":
    main()
