"""From stored runs to a verdict: every criterion in every experiment it applies to, then overall.

Pure given the runs' stored data (result.json and timeline.db), the policy, the gate record
(which runs exist, which fail-fast look decided what), the waivers and the seed: re-judging a
gate directory gives the same verdict.

Per criterion: PASS, WARN (a PASS close to its limit, or a waived failure), FAIL, INCONCLUSIVE.
Overall: a critical FAIL -> FAIL (exit 1); else a critical INCONCLUSIVE or any run that could
not be used -> INCONCLUSIVE (exit 2); else any WARN or non-critical FAIL/INCONCLUSIVE -> WARN
(exit 0, 1 with --fail-on warn); else PASS (exit 0).

Error control: comparisons are corrected with Bonferroni over the m (criterion, experiment)
pairs. With fail-fast, half of alpha is spent on the interim looks (split evenly over all of
them, Bonferroni again) and half on the final decision, so peeking cannot raise the false-block
probability above alpha.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from chaos.errors import ChaosgateError
from chaos.gate.calibration import Noise, load_for
from chaos.gate.matrices import MatrixSides, judge_matrix
from chaos.gate.policy import MATRIX_NAME, Criterion, LoadedPolicy, PlannedExperiment, PlannedMatrix, warn_amount
from chaos.gate.waivers import Waiver
from chaos.measure.metrics.timeline import Timeline
from chaos.measure.observations import observe, observe_points
from chaos.measure.quantiles import Buckets
from chaos.measure.result import BlastRadius, RunResult, load_result
from chaos.measure.sli import SLIValue
from chaos.measure.stats import Counts, Decision, Method, allowed_change, compare
from chaos.measure.trend import compare_trend
from chaos.spec.surfaces import QuantileSLI, SLIDef, SLIRef, Surface

Verdict = Literal["PASS", "WARN", "FAIL", "INCONCLUSIVE"]
Side = Literal["baseline", "candidate"]
EXIT = {"PASS": 0, "WARN": 0, "FAIL": 1, "INCONCLUSIVE": 2}


#: The statistics the gate judges with: independent windows until a degradation that grows during
#: the fault phase no longer reads as dependence to the time-series method (docs/guides/gate.md).
GATE_METHOD: Method = "independent"
#: How a criterion reads when fail-fast stopped the gate before its runs.
NOT_RUN_EARLY = "not run (the gate stopped early)"

class GateRun(BaseModel):
    """One planned run of the gate, and what became of it."""

    experiment: str
    side: Side
    repeat: int
    run_dir: str | None = None
    status: str | None = None
    reason: str | None = None
    stopped_by_gate: bool = False
    retried: bool = Field(False, description="its baseline was not steady and it was run again: not judged")


class Look(BaseModel):
    """A fail-fast look that found a critical criterion failed."""

    criterion: str
    experiment: str
    run_dir: str
    at: float = Field(description="end of the candidate's window (timeline clock)")
    look: int
    of: int
    alpha: float | None = Field(None, description="the error this look spent (older records: the even split)")
    decided_at: float | None = Field(None, description="when the look was taken; `at` is where its data ends")


class GateRecord(BaseModel):
    """gate.json: what a gate ran (or stored runs a re-judgement reads)."""

    policy: str
    gate_id: str
    baseline: dict[str, str]
    candidate: dict[str, str]
    seed: int = 0
    fail_fast: bool = True
    started_at: float = Field(default_factory=time.time)
    ended_at: float | None = None
    runs: list[GateRun] = Field(default_factory=list)
    looks: list[Look] = Field(default_factory=list)
    stopped_early: str | None = None
    declared_s: float = Field(0.0, description="sum of the declared phase windows of the runs made")
    stack_reuse: bool = True
    matrices: list[MatrixSides] = Field(default_factory=list, description="the matrix criteria's matrices")


class WaiverUsed(BaseModel):
    criterion: str
    experiment: str
    owner: str
    reason: str
    expires: dt.date
    was: Verdict


class CriterionVerdict(BaseModel):
    """One criterion in one experiment: the verdict and everything behind it."""

    criterion: str
    experiment: str
    kind: str
    critical: bool
    verdict: Verdict
    rule: str = Field(description="the rule that decided, in words")
    reason: str
    sli: SLIRef | None = None
    phase: str | None = None
    candidate: float | None = None
    baseline: float | None = None
    n_candidate: float | None = None
    n_baseline: float | None = None
    effect: float | None = None
    low: float | None = None
    high: float | None = None
    allowed: float | None = None
    detectable: float | None = Field(None, description="the worsening this comparison would FAIL with 80 % power")
    confidence: float | None = None
    method: str | None = None
    threshold: str | None = None
    waiver: WaiverUsed | None = None


class GateVerdict(BaseModel):
    """verdict.json."""

    policy: str
    gate_id: str
    gate_dir: str
    verdict: Verdict
    exit_code: int
    reasons: list[str]

    def split_reasons(self) -> tuple[list[str], list[str]]:
        """The decisive reasons first, and those of criteria that were never judged (the gate
        stopped early) apart, to fold away: a reader needs the first, rarely the rest."""
        folded = [r for r in self.reasons if r.endswith(NOT_RUN_EARLY)]
        return [r for r in self.reasons if not r.endswith(NOT_RUN_EARLY)], folded
    baseline: dict[str, str]
    candidate: dict[str, str]
    criteria: list[CriterionVerdict]
    runs: list[GateRun]
    correction: str
    alpha: float
    seed: int
    fail_fast: bool
    stopped_early: str | None = None
    waivers: list[WaiverUsed] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    wall_s: float | None = None
    declared_s: float = 0.0
    stack_reuse: bool = True
    report: str | None = Field(None, description="the HTML report, once reports exist")
    judged_at: float = Field(default_factory=time.time)


def comparisons(policy: LoadedPolicy) -> int:
    """m: the (vs_baseline or trend criterion, experiment) pairs tested, and the matrix criteria —
    the Bonferroni divisor."""
    return (sum(1 for c in policy.spec.criteria if c.compared for p in policy.experiments if c.applies_to(p.name))
            + len(policy.matrices)) or 1


def looks_per_run(policy: LoadedPolicy, p: PlannedExperiment) -> int:
    """Interim looks in one candidate run's fault phase."""
    return max(1, int(p.candidate.spec.phases.fault // policy.spec.look_every))


def looked_at(policy: LoadedPolicy) -> int:
    """The (critical fault-phase vs_baseline criterion, experiment) pairs fail-fast looks at."""
    return sum(1 for c in policy.spec.criteria if c.vs_baseline and c.critical and c.phase == "fault"
               for p in policy.experiments if c.applies_to(p.name)) or 1


def look_alpha(policy: LoadedPolicy, p: PlannedExperiment) -> float:
    """The even split of look_budget over every planned look: what gate records without a stored
    look alpha were judged with (re-judging them stays the same)."""
    return look_budget(policy) / (policy.spec.repeats * looks_per_run(policy, p))


def look_budget(policy: LoadedPolicy) -> float:
    """The error fail-fast may spend on one (criterion, experiment) pair over all its looks: half of
    alpha, split over the pairs looked at (the final decisions get the other half)."""
    return policy.spec.alpha / (2 * looked_at(policy))


class Spending:
    """Fail-fast's error per (criterion, experiment) pair: `budget` accrues as look_fraction grows
    and a look may spend what accrued since the last look that decided. A look that cannot decide
    spends nothing; what the looks spend adds up to at most the budget (the union bound)."""

    def __init__(self, budget: float):
        self.budget = budget
        self._spent: dict[tuple[str, str], float] = {}

    def available(self, key: tuple[str, str], fraction: float) -> float:
        """The error a look at `fraction` may use."""
        return self.budget * max(fraction - self._spent.get(key, 0.0), 0.0)

    def spend(self, key: tuple[str, str], fraction: float) -> None:
        """A look at `fraction` decided: what accrued up to it is used."""
        self._spent[key] = max(fraction, self._spent.get(key, 0.0))


def look_fraction(policy: LoadedPolicy, p: PlannedExperiment, repeat: int, seen_s: float) -> float:
    """How much of a pair's fail-fast budget may be spent once `seen_s` seconds of candidate run
    `repeat`'s fault phase are in: spending is linear in the candidate fault time planned, so
    the budget is known before the first look, whatever the looks find."""
    fault = p.candidate.spec.phases.fault
    return min(1.0, (repeat + min(max(seen_s, 0.0), fault) / fault) / policy.spec.repeats)


def final_alpha(policy: LoadedPolicy, fail_fast: bool) -> float:
    """The error level of one final comparison."""
    return policy.spec.alpha / ((2 if fail_fast else 1) * comparisons(policy))


# --- observations of stored runs -------------------------------------------------------------------
class StoredRun:
    """A gate run as the verdict reads it: its result (or why it cannot be used) and timeline."""

    def __init__(self, gr: GateRun, result: RunResult | None = None):
        self.gr = gr
        self.result = result
        self.problem: str | None = None
        self._timeline: Timeline | None = None
        if result is not None:
            return  # a run still in progress (a fail-fast look)
        if gr.run_dir is None:
            self.problem = gr.reason or "not run"
            return
        try:
            self.result = load_result(gr.run_dir)
        except (ChaosgateError, OSError) as exc:  # missing, unreadable or not a result: a problem to report
            self.problem = f"no usable result: {exc}"
            return
        ok = self.result.status == "completed" or (self.result.status == "aborted" and gr.stopped_by_gate)
        if not ok:
            self.problem = f"{self.result.status}: {self.result.reason}"

    @property
    def timeline(self) -> Timeline:
        if self._timeline is None:
            assert self.gr.run_dir is not None, "a run without a run directory has no timeline"
            self._timeline = Timeline(self.gr.run_dir)
        return self._timeline

    @property
    def usable(self) -> RunResult:
        """The result of a run that can be judged (`problem` is None, so its result was loaded)."""
        assert self.result is not None, f"{self.label()} has no usable result: {self.problem}"
        return self.result

    def label(self) -> str:
        return f"{self.gr.side} run {self.gr.repeat + 1}"

    def window(self, phase: str, until: float | None = None) -> tuple[float, float] | None:
        t = self.result.phases.get(phase) if self.result else None
        if t is None:
            return None
        return (t[0], min(t[1], until)) if until is not None else (t[0], t[1])


def _sli_ref(crit: Criterion) -> SLIRef:
    """The SLI of a vs_baseline or bound criterion (the policy requires its `sli`)."""
    assert crit.sli is not None, f"criterion {crit.name!r} has no sli"
    return crit.sli


def _sli(crit: Criterion, p: PlannedExperiment) -> tuple[Surface, SLIDef]:
    """The surface and SLI a criterion compares (the policy checked it names one of the experiment's)."""
    found = _sli_ref(crit).find(p.candidate.surfaces)
    assert found is not None, f"experiment {p.name!r} has no SLI {_sli_ref(crit)}"
    return found


#: A criterion's observations of some runs: one group of windows per run.
Pooled = list[list[Counts]] | list[list[Buckets]] | list[list[float]]


def pool_runs(runs: list[StoredRun], crit: Criterion, p: PlannedExperiment, window_s: float,
              cut: tuple[str, float] | None = None) -> Pooled:
    """Each run's windows in the criterion's phase, as its own group: runs are the unit that repeats."""
    surface, sli = _sli(crit, p)
    source = sli.source or surface.services[0]
    groups: list = []
    for r in runs:
        w = r.window(crit.phase, cut[1] if cut and cut[0] == r.gr.run_dir else None)
        if w is not None:
            groups.append(observe(r.timeline, sli, source, w[0], w[1], window_s))
    return groups


def compare_criterion(policy: LoadedPolicy, crit: Criterion, p: PlannedExperiment, base: list[StoredRun],
                      cand: list[StoredRun], alpha: float, seed: int, cut: tuple[str, float] | None = None,
                      pooled_base: Pooled | None = None, noise: Noise | None = None) -> Decision:
    """The statistical comparison of one vs_baseline criterion on these runs; `pooled_base` is
    `base` already pooled (fail-fast looks reuse it: stored runs do not change between looks);
    `noise`, the calibration's for this pair: its run-to-run variance is added to the interval."""
    b = pooled_base if pooled_base is not None else pool_runs(base, crit, p, policy.spec.window)
    c = pool_runs(cand, crit, p, policy.spec.window, cut)
    sli = _sli(crit, p)[1]
    better = sli.better
    rule = crit.vs_baseline
    assert rule is not None, "only a vs_baseline criterion is compared"
    # Each side's mean over its runs carries the between-run variance once per run it averages.
    extra = noise.between_variance * (1 / max(len(b), 1) + 1 / max(len(c), 1)) if noise else 0.0
    d = compare(b, c, better=better, relative=rule.allowed, floor=rule.floor, alpha=alpha,
                min_samples=crit.min_samples, seed=seed, method=GATE_METHOD, extra_variance=extra,
                quantile=sli.q if isinstance(sli, QuantileSLI) else None)
    if noise is not None and extra <= 0:  # calibrated, and the runs differed no more than sampling says
        d.method += "; the calibration measured no run-to-run variance beyond sampling"
    return d


# --- the criteria ------------------------------------------------------------------------------------
def evaluate(policy: LoadedPolicy, record: GateRecord, gate_dir: Path, waivers: list[Waiver],
             warnings: list[str]) -> GateVerdict:
    """The gate's verdict from its record and the stored runs."""
    runs = [StoredRun(gr) for gr in record.runs if not gr.retried]
    warnings = warnings + [f"{gr.experiment} {gr.side} {gr.repeat + 1} was run again: {gr.reason}"
                           for gr in record.runs if gr.retried]
    calibration, about = load_for(policy)
    warnings = warnings + about
    verdicts: list[CriterionVerdict] = []
    problems: list[str] = []
    for p in policy.experiments:
        mine = [r for r in runs if r.gr.experiment == p.name]
        base = [r for r in mine if r.gr.side == "baseline" and r.problem is None]
        cand = [r for r in mine if r.gr.side == "candidate" and r.problem is None]
        skipped = [r for r in mine if r.gr.run_dir is None and record.stopped_early]
        bad = [f"{p.name}: {r.label()}: {r.problem}" for r in mine if r.problem is not None and r not in skipped]
        if skipped or not mine:
            bad.append(f"{p.name}: {NOT_RUN_EARLY}" if skipped else f"{p.name}: not run")
        problems += bad
        for i, crit in enumerate(policy.spec.criteria):
            if not crit.applies_to(p.name):
                continue
            seed = record.seed * 1000 + i
            if crit.vs_baseline:
                noise = calibration.find(crit.name, p.name) if calibration else None
                v = _vs_baseline(policy, record, crit, p, base, cand, seed, noise)
                warnings += below_noise(policy, crit, noise, record.fail_fast)
            elif crit.trend:
                v = _trend(policy, record, crit, p, base, cand)
            elif crit.bound:
                v = _bound(crit, p, base, cand)
            else:
                v = _radius(crit, p, base, cand)
            if bad and v.verdict != "FAIL":
                v.verdict, v.reason = "INCONCLUSIVE", f"{v.reason}; runs that could not be used: {'; '.join(bad)}"
            verdicts.append(_waive(v, waivers, record.candidate))
    verdicts += [_waive(_matrix(policy, record, m), waivers, record.candidate) for m in policy.matrices]
    return _overall(policy, record, gate_dir, verdicts, problems, waivers, warnings)


def below_noise(policy: LoadedPolicy, crit: Criterion, noise: Noise | None, fail_fast: bool) -> list[str]:
    """A warning when the criterion allows less change than its measured A/A noise spans: such a
    gate is INCONCLUSIVE on a good release more often than not, and its floor is not a measurement."""
    rule = crit.vs_baseline
    if noise is None or rule is None:
        return []
    from scipy.stats import norm

    alpha = final_alpha(policy, fail_fast)
    spread = float(norm.ppf(1 - alpha / 2)) * math.sqrt(
        2 * (noise.between_variance + noise.within_variance) / policy.spec.repeats)
    allowed = allowed_change(noise.level, rule.allowed, rule.floor)
    if allowed >= spread:
        return []
    return [f"{crit.name!r} [{noise.experiment}]: the allowed change {allowed:.3g} is below the measured noise — "
            f"an A/A gate of this policy spans +-{spread:.3g} at alpha {alpha:.2g} ({policy.spec.repeats} run(s) a "
            f"side, calibration of {noise.experiment}); raise the floor, or the repeats"]


def _vs_baseline(policy: LoadedPolicy, record: GateRecord, crit: Criterion, p: PlannedExperiment,
                 base: list[StoredRun], cand: list[StoredRun], seed: int, noise: Noise | None = None) -> CriterionVerdict:
    vs = crit.vs_baseline
    assert vs is not None, "only a vs_baseline criterion is judged here"
    look = next((lk for lk in record.looks if lk.criterion == crit.name and lk.experiment == p.name), None)
    if look is not None:
        alpha = look.alpha if look.alpha is not None else look_alpha(policy, p)
        d = compare_criterion(policy, crit, p, base, cand, alpha, seed, (look.run_dir, look.at), noise=noise)
        rule = (f"fail-fast look {look.look} of {look.of}: the interval is wholly beyond the allowed change"
                + _look_span(look, cand, crit.phase))
    else:
        d = compare_criterion(policy, crit, p, base, cand, final_alpha(policy, record.fail_fast), seed, noise=noise)
        rule = {"FAIL": "the interval is wholly beyond the allowed change",
                "PASS": "the interval is wholly within the allowed change",
                "INCONCLUSIVE": "the interval straddles the allowed change, or too few samples"}[d.verdict]
    v = _compared(crit, p, d, rule, f"worse by at most max({vs.allowed:.4g} x baseline, {vs.floor:g})")
    if d.verdict == "PASS" and crit.warn_band is not None:  # (no data is never a PASS: on_missing decided it)
        assert d.high is not None and d.allowed is not None  # a decided comparison has its interval and limit
        if d.high > d.allowed - warn_amount(crit.warn_band, d.allowed):
            v.verdict, v.rule = "WARN", f"PASS, but the interval reaches into the warn band ({crit.warn_band})"
    return v


def _trend(policy: LoadedPolicy, record: GateRecord, crit: Criterion, p: PlannedExperiment,
           base: list[StoredRun], cand: list[StoredRun]) -> CriterionVerdict:
    """The candidate's climb over the phase against the baseline's (judged once, at the end: a
    slope needs the phase's windows; fail-fast looks at vs_baseline criteria only)."""
    rule = crit.trend
    assert rule is not None, "only a trend criterion is judged here"
    surface, sli = _sli(crit, p)
    source = sli.source or surface.services[0]

    def points(runs: list[StoredRun]) -> list[list[tuple[float, float]]]:
        groups = []
        for r in runs:
            w = r.window(crit.phase)
            if w is not None:
                groups.append(observe_points(r.timeline, sli, source, w[0], w[1], rule.window or policy.spec.window))
        return groups

    d = compare_trend(points(base), points(cand), better=sli.better, allowed=rule.allowed, per_s=rule.per,
                      alpha=final_alpha(policy, record.fail_fast), min_samples=crit.min_samples)
    per = f"{rule.per:g}s"
    rules = {"FAIL": "the candidate climbs faster than allowed: the interval is wholly beyond it",
             "PASS": "the candidate climbs no faster than allowed: the interval is wholly within it",
             "INCONCLUSIVE": "the interval straddles the allowed climb, or too few windows"}
    return _compared(crit, p, d, rules[d.verdict], f"climbs at most {rule.allowed:g} per {per} faster than the baseline")


def _compared(crit: Criterion, p: PlannedExperiment, d: Decision, rule: str, threshold: str) -> CriterionVerdict:
    """A comparison's verdict (vs_baseline or trend) with everything behind it; no data at all is
    missing data, judged by the criterion's on_missing."""
    v = CriterionVerdict(criterion=crit.name, experiment=p.name, kind=crit.kind, critical=crit.critical,
                         verdict=d.verdict, rule=rule, reason=d.reason, sli=crit.sli, phase=crit.phase,
                         candidate=d.candidate, baseline=d.baseline, n_candidate=d.n_candidate,
                         n_baseline=d.n_baseline, effect=d.effect, low=d.low, high=d.high, allowed=d.allowed,
                         detectable=d.detectable, confidence=d.confidence, method=d.method, threshold=threshold)
    if d.n_baseline == 0 and d.n_candidate == 0:
        return _missing(v, crit, "no data on either side")
    return v


def _look_span(look: Look, cand: list[StoredRun], phase: str) -> str:
    """Why the candidate's figure differs from its run report's: the look saw the phase only up to
    its own time, the run report covers the phase until the abort."""
    run = next((r for r in cand if r.gr.run_dir == look.run_dir and r.result is not None), None)
    span = run.result.phases.get(phase) if run is not None and run.result is not None else None
    if span is None:
        return ""
    return (f" (the candidate's figure covers the {phase} phase's first {max(look.at - span[0], 0.0):.1f}s, "
            f"as the look saw it; its run report covers the phase until the abort, {span[1] - span[0]:.1f}s)")


def _bound(crit: Criterion, p: PlannedExperiment, base: list[StoredRun], cand: list[StoredRun]) -> CriterionVerdict:
    surface, sli = _sli_ref(crit)
    bound = crit.bound
    assert bound is not None, "only a bound criterion is judged here"
    threshold = " and ".join(s for s in (f">= {bound.min:g}" if bound.min is not None else "",
                                         f"<= {bound.max:g}" if bound.max is not None else "") if s)
    v = CriterionVerdict(criterion=crit.name, experiment=p.name, kind="bound", critical=crit.critical,
                         verdict="INCONCLUSIVE", rule="", reason="", sli=crit.sli, phase=crit.phase,
                         threshold=threshold)

    def values(runs: list[StoredRun]) -> list[SLIValue | None]:
        return [r.usable.slis.get(surface, {}).get(sli, {}).get(crit.phase) for r in runs]

    cv = values(cand)
    bv = [x.value for x in values(base) if x is not None and x.value is not None]
    v.baseline = sum(bv) / len(bv) if bv else None
    # Every candidate run's value, when each has one (the check below).
    cvals = [x.value for x in cv if x is not None and x.value is not None]
    if not cv or len(cvals) != len(cv):
        return _missing(v, crit, "the candidate has no value of it" + ("" if cv else " (no usable run)"))
    # The worst of the candidate's runs decides: one bad run is a bad candidate.
    worst = min(cvals) if bound.min is not None else max(cvals)
    v.candidate, v.n_candidate = worst, min(x.n for x in cv if x is not None)
    if v.n_candidate < crit.min_samples:
        v.rule, v.reason = "too few samples", f"{v.n_candidate:g} samples, at least {crit.min_samples} needed"
        return v
    low_ok = bound.min is None or worst >= bound.min
    high_ok = bound.max is None or worst <= bound.max
    if not (low_ok and high_ok):
        v.verdict, v.rule = "FAIL", f"outside the bound ({threshold})"
        v.reason = f"{crit.sli} in the {crit.phase} phase was {worst:.4g} ({threshold} required)"
        return v
    v.verdict, v.rule = "PASS", f"within the bound ({threshold})"
    v.reason = f"{crit.sli} in the {crit.phase} phase was {worst:.4g}"
    if crit.warn_band is not None:
        edges = [b for b in (bound.min, bound.max) if b is not None]
        if any(abs(worst - b) < warn_amount(crit.warn_band, b) for b in edges):
            v.verdict, v.rule = "WARN", f"within the bound, but inside its warn band ({crit.warn_band})"
    return v


def _radius(crit: Criterion, p: PlannedExperiment, base: list[StoredRun], cand: list[StoredRun]) -> CriterionVerdict:
    rule = crit.blast_radius
    assert rule is not None, "only a blast_radius criterion is judged here"
    parts = (["contained as declared"] if rule.contained else []) + \
            ([f"score <= {rule.max_score:g}"] if rule.max_score is not None else []) + \
            ([f"recovery <= {rule.max_recover_s:g}s"] if rule.max_recover_s is not None else [])
    v = CriterionVerdict(criterion=crit.name, experiment=p.name, kind="blast_radius", critical=crit.critical,
                         verdict="PASS", rule="", reason="", threshold=", ".join(parts) or "measured")
    measured = [r.usable.blast_radius for r in cand]
    scores = [br.score for r in base if (br := r.usable.blast_radius)]
    v.baseline = max(scores) if scores else None
    radii: list[BlastRadius] = [x for x in measured if x is not None]
    if not measured or len(radii) != len(measured):
        return _missing(v, crit, "no blast radius was measured for the candidate")
    v.candidate = max(x.score for x in radii)
    failures: list[str] = []
    unknown: list[str] = []
    for x in radii:
        if rule.contained and x.contained is False:
            failures.append(f"degraded beyond the expected radius: {', '.join(sorted(set(x.radius) - set(x.expected)))}"
                            f" (expected: {', '.join(x.expected) or 'none'})")
        elif rule.contained and x.contained is None:
            unknown.append("fault never landed: " + " | ".join(x.not_landed) if x.not_landed
                           else f"cannot tell whether {', '.join(x.unknown)} stayed within tolerance (too few "
                           "samples, or an interval that straddles it: more load or longer phases would tell)")
        if rule.max_score is not None and x.score > rule.max_score:
            failures.append(f"score {x.score:g} > {rule.max_score:g}")
        if rule.max_recover_s is not None:
            for s in x.surfaces:
                if s.degraded and s.classification != "target" and (
                        s.time_to_recover_s is None or s.time_to_recover_s > rule.max_recover_s):
                    took = "did not recover" if s.time_to_recover_s is None else f"took {s.time_to_recover_s:g}s"
                    failures.append(f"{s.surface} {took} to recover")
    if failures:
        v.verdict, v.rule, v.reason = "FAIL", "the candidate's radius breaks the rule", "; ".join(dict.fromkeys(failures))
    elif unknown:
        v.verdict, v.rule, v.reason = "INCONCLUSIVE", "unknown never counts as contained", "; ".join(unknown)
    else:
        v.rule, v.reason = "the candidate's radius keeps the rule", (
            f"radius {', '.join(radii[0].radius) or 'none'} within {', '.join(radii[0].expected) or 'none'}")
    return v


def _matrix(policy: LoadedPolicy, record: GateRecord, planned: PlannedMatrix) -> CriterionVerdict:
    crit = next(c for c in policy.spec.criteria if c.name == planned.criterion)
    sides = next((m for m in record.matrices if m.criterion == planned.criterion), None)
    v = CriterionVerdict(criterion=crit.name, experiment=MATRIX_NAME, kind="matrix", critical=crit.critical,
                         verdict="INCONCLUSIVE", rule="the candidate's matrix against the baseline's, cell by cell",
                         reason="", method="each entry against its cell's own baseline phase, and each surface's "
                         "fault window against the baseline's under the same cell (chaos.matrix.compare)")
    if sides is None and record.stopped_early:
        v.reason = NOT_RUN_EARLY
        return v
    alpha = final_alpha(policy, record.fail_fast)
    v.verdict, v.reason = judge_matrix(planned, sides, record.candidate, alpha)
    v.confidence = 1 - alpha
    return v


def _missing(v: CriterionVerdict, crit: Criterion, why: str) -> CriterionVerdict:
    outcome: dict[str, Verdict] = {"inconclusive": "INCONCLUSIVE", "fail": "FAIL", "warn": "WARN"}
    v.verdict = outcome[crit.on_missing]
    v.rule, v.reason = f"missing data (on_missing: {crit.on_missing})", why
    return v


def _waive(v: CriterionVerdict, waivers: list[Waiver], candidate: dict[str, str]) -> CriterionVerdict:
    if v.verdict not in ("FAIL", "INCONCLUSIVE"):
        return v
    w = next((w for w in waivers if w.matches(v.criterion, v.experiment, candidate)), None)
    if w is not None:
        v.waiver = WaiverUsed(criterion=v.criterion, experiment=v.experiment, owner=w.owner, reason=w.reason,
                              expires=w.expires, was=v.verdict)
        v.verdict = "WARN"
    return v


def _overall(policy: LoadedPolicy, record: GateRecord, gate_dir: Path, verdicts: list[CriterionVerdict],
             problems: list[str], waivers: list[Waiver], warnings: list[str]) -> GateVerdict:
    crit_fail = [v for v in verdicts if v.critical and v.verdict == "FAIL"]
    crit_inconclusive = [v for v in verdicts if v.critical and v.verdict == "INCONCLUSIVE"]
    soft = [v for v in verdicts if v.verdict == "WARN" or (not v.critical and v.verdict in ("FAIL", "INCONCLUSIVE"))]
    if crit_fail:
        verdict: Verdict = "FAIL"
    elif crit_inconclusive or problems:
        verdict = "INCONCLUSIVE"
    elif soft:
        verdict = "WARN"
    else:
        verdict = "PASS"
    reasons = [f"{v.verdict}: {v.criterion} [{v.experiment}]: {v.reason}" for v in crit_fail + crit_inconclusive]
    reasons += problems
    reasons += [f"{v.verdict}{' (non-critical)' if not v.critical and v.verdict != 'WARN' else ''}: {v.criterion} "
                f"[{v.experiment}]: {v.reason}" + (f" — waived by {v.waiver.owner}: {v.waiver.reason}" if v.waiver else "")
                for v in soft]
    m = comparisons(policy)
    correction = (f"Bonferroni over {m} comparison(s) at alpha {policy.spec.alpha:g}"
                  + ("; fail-fast spends half of alpha over its interim looks, the final decisions the other half"
                     if record.fail_fast else ""))
    wall = (record.ended_at - record.started_at) if record.ended_at else None
    return GateVerdict(policy=policy.spec.name, gate_id=record.gate_id, gate_dir=str(gate_dir), verdict=verdict,
                       exit_code=EXIT[verdict], reasons=reasons, baseline=record.baseline, candidate=record.candidate,
                       criteria=verdicts, runs=record.runs, correction=correction, alpha=policy.spec.alpha,
                       seed=record.seed, fail_fast=record.fail_fast, stopped_early=record.stopped_early,
                       waivers=[v.waiver for v in verdicts if v.waiver], warnings=warnings, wall_s=wall,
                       declared_s=record.declared_s, stack_reuse=record.stack_reuse)
