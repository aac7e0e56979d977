"""`chaosgate calibrate`: run-to-run noise measured on the user's own stack.

N A/A pairs — the policy's baseline against itself, interleaved, on one kept stack, as a gate
runs them — then for each (vs_baseline criterion, experiment): every run's estimate, the pairs'
A/A effects, the sampling variance of one run's estimate and the run-to-run variance beyond it,
how many pairs alone would have been blocked at the criterion's alpha, and the worsening a gate of
this policy could see with 80 % power once the run-to-run variance is counted. Written beside the
policy (chaos.gate.calibration), and used by every gate of it.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from pathlib import Path

from chaos.gate.calibration import Calibration, Noise, path_for, stamp_of
from chaos.gate.policy import Criterion, LoadedPolicy, PlannedExperiment
from chaos.gate.runner import Gate
from chaos.gate.verdict import GateRecord, StoredRun, _sli, compare_criterion, final_alpha, pool_runs
from chaos.measure.longrun import mean_variance
from chaos.measure.quantiles import Buckets, estimate
from chaos.measure.stats import POWER, Counts, allowed_change
from chaos.spec.surfaces import QuantileSLI

#: The normal quantile of a two-sided 95 % interval: a quantile's standard error is its half-width over it.
Z_95 = 1.959964


def calibrate(policy: LoadedPolicy, out_dir: Path, pairs: int, say: Callable[[str], None]) -> tuple[Calibration, Path]:
    """Run `pairs` A/A pairs of every experiment of the policy and write its calibration."""
    # The candidate side is the baseline again: every difference between the sides is noise.
    aa = LoadedPolicy(path=policy.path, spec=policy.spec.model_copy(update={"repeats": pairs}),
                      experiments=[p.model_copy(update={"candidate": p.baseline, "candidate_vars": dict(p.baseline_vars)})
                                   for p in policy.experiments],
                      baseline=dict(policy.baseline), candidate=dict(policy.baseline))
    alpha = final_alpha(policy, policy.spec.fail_fast)  # what each comparison of a real gate is judged at
    gate = Gate(aa, out_dir, say, fail_fast=False)
    say(f"calibrate {policy.spec.name}: {pairs} A/A pair(s) of {len(aa.experiments)} experiment(s), "
        f"baseline {_vars(aa.baseline)} against itself, into {gate.dir}")
    gate.run()
    record = gate.record
    noise = []
    for p in aa.experiments:
        for i, crit in enumerate(c for c in aa.spec.criteria if c.vs_baseline and c.applies_to(p.name)):
            found = _noise(aa, record, crit, p, alpha, policy.spec.repeats, record.seed * 1000 + i)
            if found is not None:
                noise.append(found)
    cal = Calibration(policy=str(policy.path), pairs=pairs, stamp=stamp_of(policy), noise=noise)
    path = path_for(policy.path)
    path.write_text(cal.model_dump_json(indent=2) + "\n")
    return cal, path


def _vars(variables: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in variables.items()) or "(experiment defaults)"


def _noise(policy: LoadedPolicy, record: GateRecord, crit: Criterion, p: PlannedExperiment, alpha: float,
           repeats: int, seed: int) -> Noise | None:
    """What the A/A pairs of one (criterion, experiment) showed; None when no run was usable."""
    runs = [StoredRun(gr) for gr in record.runs if gr.experiment == p.name and not gr.retried]
    pairs = [(b, c) for b, c in zip([r for r in runs if r.gr.side == "baseline"],
                                    [r for r in runs if r.gr.side == "candidate"])
             if b.problem is None and c.problem is None]
    if not pairs:
        return None
    sli = _sli(crit, p)[1]
    better = sli.better
    q = sli.q if isinstance(sli, QuantileSLI) else None
    sign = 1.0 if better == "lower" else -1.0
    per_run: list[tuple[float, float]] = []
    effects: list[float] = []
    blocks = 0
    for b, c in pairs:
        eb, ec = (_estimate(pool_runs([r], crit, p, policy.spec.window), q) for r in (b, c))
        if eb is None or ec is None:
            continue
        per_run += [eb, ec]
        effects.append(sign * (ec[0] - eb[0]))
        blocks += compare_criterion(policy, crit, p, [b], [c], alpha, seed).verdict == "FAIL"
    if not effects:
        return None
    estimates = [e for e, _ in per_run]
    within = sum(v for _, v in per_run) / len(per_run)
    level = sum(estimates) / len(estimates)
    between = max(statistics.variance(estimates) - within, 0.0) if len(estimates) >= 2 else 0.0
    rule = crit.vs_baseline
    assert rule is not None
    return Noise(criterion=crit.name, experiment=p.name, level=level, estimates=estimates, aa_effects=effects,
                 within_variance=within, between_variance=between, false_blocks=blocks, alpha=alpha,
                 detectable=_detectable(allowed_change(level, rule.allowed, rule.floor), within, between,
                                        repeats, alpha))


def _estimate(groups: list, q: float | None = None) -> tuple[float, float] | None:
    """One run's estimate of the SLI and its sampling variance (dependence-aware for values and
    quantiles; a quantile of a histogram's windows needs its `q`)."""
    windows = groups[0] if groups else []
    if not windows:
        return None
    if isinstance(windows[0], Buckets):
        assert q is not None, "a quantile SLI's windows need its q"
        found = estimate(windows, q, Z_95)
        if found is None or not math.isfinite(found.se):  # in the +Inf bucket: no variance to measure
            return None
        return found.value, found.se ** 2
    if isinstance(windows[0], Counts):
        good, total = sum(w.good for w in windows), sum(w.total for w in windows)
        if total <= 0:
            return None
        p = (good + 2) / (total + 4)  # Agresti-Coull: 0 of 40 is not known exactly
        return good / total, p * (1 - p) / total
    values = [float(v) for v in windows if math.isfinite(v)]
    if len(values) < 2:
        return None
    mv = mean_variance(values)
    return mv.mean, mv.variance


def _detectable(allowed: float, within: float, between: float, repeats: int, alpha: float) -> float:
    """The worsening a gate with `repeats` runs a side FAILs with POWER: allowed plus
    (z_(1-alpha/2) + z_POWER) standard errors of the difference of the sides' means."""
    from scipy.stats import norm

    se = math.sqrt(2 * (within + between) / repeats)
    return allowed + (float(norm.ppf(1 - alpha / 2)) + float(norm.ppf(POWER))) * se
