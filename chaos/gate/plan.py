"""`chaosgate gate --dry-run`: what a gate would run, in which order, for how long, and what each
comparison can tell — read from the policy and its experiments, touching nothing.

The error levels are the judge's own (`chaos.gate.verdict`); sample counts are estimates, and
the plan says what each rests on: a window count is fixed by the phases, an event count depends on
the load and is scaled from a stored run of the same experiment when there is one.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

from pydantic import BaseModel

from chaos.errors import InputError
from chaos.gate.policy import Criterion, LoadedPolicy, PlannedExperiment
from chaos.gate.verdict import comparisons, final_alpha, look_budget, looked_at, looks_per_run
from chaos.gate.waivers import Waiver, split_expired
from chaos.measure.result import load_result
from chaos.spec.surfaces import QuantileSLI, RatioSLI

#: Stored runs looked at, newest first, for an experiment's event rate.
HISTORY_LIMIT = 20


class PlannedRun(BaseModel):
    """One run of the gate, in the order the gate makes them."""

    number: int
    experiment: str
    side: str
    repeat: int
    declared_s: float
    deadline_s: float


def gate_runs(policy: LoadedPolicy) -> list[PlannedRun]:
    """The runs in the order `chaos.gate.runner.Gate.run` makes them: per repeat, per experiment,
    baseline then candidate."""
    order = [(r, p, side) for r in range(policy.spec.repeats) for p in policy.experiments
             for side in ("baseline", "candidate")]
    return [PlannedRun(number=n, experiment=p.name, side=side, repeat=r,
                       declared_s=(p.baseline if side == "baseline" else p.candidate).spec.phases.total(),
                       deadline_s=(p.baseline if side == "baseline" else p.candidate).spec.deadline)
            for n, (r, p, side) in enumerate(order, 1)]


def describe_gate_plan(policy: LoadedPolicy, fail_fast: bool | None = None, waivers: list[Waiver] | None = None,
                       out: Path | str | None = None) -> str:
    """The plan as text: runs, order, declared time, each comparison's alpha and expected samples.
    `out` is where stored runs are looked for to estimate event counts."""
    spec = policy.spec
    fail_fast = spec.fail_fast if fail_fast is None else fail_fast
    runs = gate_runs(policy)
    lines = [f"gate {spec.name}: {spec.description}".rstrip(": "), f"  policy {policy.path}",
             "  baseline: " + (_vars(policy.baseline) or "the experiments' own variables"),
             "  candidate: " + (_vars(policy.candidate) or "NOTHING SET (give --candidate VAR=VALUE): both sides "
                                "would run the same thing")]
    backends = sorted({p.candidate.spec.backend for p in policy.experiments})
    stacks = sorted({str(p.candidate.stack.path) for p in policy.experiments})
    lines.append(f"  backend {', '.join(backends)}; {spec.repeats} repeat(s); fail-fast "
                 + (f"on (a look every {spec.look_every:g}s of a candidate's fault phase)" if fail_fast else "off")
                 + f"; a run whose baseline was not steady is run again up to {spec.retries} time(s)")
    lines.append(f"  stacks: {len(stacks)} ({', '.join(stacks)}), "
                 + ("kept between runs and reset" if spec.reuse_stack else "started fresh for every run"))
    lines.append(f"runs ({len(runs)}, in this order):")
    width = max((len(r.experiment) for r in runs), default=10)
    for r in runs:
        lines.append(f"  {r.number:3d}. {r.experiment:<{width}}  {r.side:<9}  repeat {r.repeat + 1}  "
                     f"{_dur(r.declared_s)} of phases (deadline {_dur(r.deadline_s)})")
    matrices = _matrices(policy)
    lines += matrices
    declared = sum(r.declared_s for r in runs) + sum(m.declared_s() for m in policy.matrices)
    lines.append(f"declared time: {_dur(declared)} of phases over {len(runs)} runs"
                 + (f" and {len(policy.matrices)} matrix criterion(s)" if policy.matrices else "")
                 + f"; at most {_dur(sum(r.deadline_s for r in runs))} by the runs' deadlines (stack start included), "
                 "more if runs are run again; fail-fast may stop it sooner")
    lines += _statistics(policy, fail_fast)
    lines.append("criteria (per experiment: error level, and the samples a side will have):")
    for crit in spec.criteria:
        lines += _criterion(policy, crit, fail_fast, Path(out) if out is not None else None)
    lines += _waivers(waivers or [], policy)
    lines.append("dry run: nothing was started, injected or written")
    return "\n".join(lines)


def _matrices(policy: LoadedPolicy) -> list[str]:
    """The matrix criteria's cells, run after the experiments for each side."""
    lines = []
    for m in policy.matrices:
        s = m.baseline.settings
        lines.append(f"then matrix criterion {m.criterion!r}: {len(m.baseline.cells)} cell(s) for the baseline, then "
                     f"for the candidate, each {_dur(s.cell_s())} of phases (warmup {s.warmup_s:g}s, baseline "
                     f"{s.baseline_s:g}s, fault {s.window_s:g}s, recovery {s.recovery_s:g}s):")
        lines += [f"       {c.id}" for c in m.baseline.cells]
        lines += [f"       (skipped {k.id}: {k.why})" for k in m.baseline.skipped]
    return lines


def _statistics(policy: LoadedPolicy, fail_fast: bool) -> list[str]:
    spec = policy.spec
    m = comparisons(policy)
    text = [f"statistics: Bonferroni over {m} comparison(s) (vs_baseline or trend criterion x experiment, and matrix criteria) at alpha "
            f"{spec.alpha:g}: each final comparison at {_alpha(final_alpha(policy, fail_fast))}"]
    if fail_fast:
        text.append(f"  fail-fast spends half of alpha on interim looks: {_alpha(look_budget(policy))} for each of "
                    f"{looked_at(policy)} critical fault-phase comparison(s), accrued linearly over the candidate's "
                    f"fault time ({spec.repeats} repeat(s)) and spent only by looks with enough samples to decide")
    return text


def _criterion(policy: LoadedPolicy, crit: Criterion, fail_fast: bool, out: Path | None) -> list[str]:
    rule = (f"{crit.sli} vs baseline in the {crit.phase} phase, worse by at most max("
            f"{100 * crit.vs_baseline.allowed:.4g}% of the baseline, {crit.vs_baseline.floor:g})" if crit.vs_baseline else
            f"{crit.sli}'s climb over the {crit.phase} phase (a least-squares slope) at most {crit.trend.allowed:g} per "
            f"{crit.trend.per:g}s faster than the baseline's" if crit.trend else
            f"{crit.sli} in the {crit.phase} phase within {_bound(crit)}" if crit.bound else
            "the candidate's matrix against the baseline's, cell by cell" if crit.matrix else
            "the candidate's blast radius (no statistics: each candidate run must keep the rule)")
    lines = [f"  {crit.name}{' (critical)' if crit.critical else ''}: {rule}"]
    targets = [p for p in policy.experiments if crit.applies_to(p.name)]
    if crit.matrix:
        ran = any(m.criterion == crit.name for m in policy.matrices)
        return lines + [f"    alpha {_alpha(final_alpha(policy, fail_fast))} over its whole matrix (judged at the end, "
                        "after the experiments)" if ran else "    not run (--only leaves the matrix out)"]
    if not targets:
        lines.append("    applies to none of the experiments")
    width = max((len(p.name) for p in targets), default=10)
    for p in targets:
        if crit.vs_baseline:
            level = f"alpha {_alpha(final_alpha(policy, fail_fast))}"
            if fail_fast and crit.critical and crit.phase == "fault":
                level += (f", {looks_per_run(policy, p)} look(s) per candidate run spending up to "
                          f"{_alpha(look_budget(policy))} in all, on looks with enough samples")
            lines.append(f"    {p.name:<{width}}  {level}; {_samples(policy, crit, p, out)}")
        elif crit.trend:
            lines.append(f"    {p.name:<{width}}  alpha {_alpha(final_alpha(policy, fail_fast))}, judged at the end "
                         f"(no fail-fast look); {_samples(policy, crit, p, out)}")
        elif crit.bound:
            lines.append(f"    {p.name:<{width}}  each run's {crit.phase} value; {_samples(policy, crit, p, out)}")
        else:
            lines.append(f"    {p.name:<{width}}  expected radius: {', '.join(p.candidate.spec.expected_radius) or 'none'}")
    return lines


def _samples(policy: LoadedPolicy, crit: Criterion, p: PlannedExperiment, out: Path | None) -> str:
    """Roughly how many samples a side gets, and what the estimate rests on."""
    assert crit.sli is not None, "a vs_baseline, trend or bound criterion names its SLI"
    found = crit.sli.find(p.candidate.surfaces)
    if found is None:
        return "its SLI is not in this experiment"
    _, sli = found
    phase_s = getattr(p.candidate.spec.phases, crit.phase)
    repeats = policy.spec.repeats
    span = f"{repeats} run(s) x {_dur(phase_s)}"
    # A quantile is of the phase's requests (its histogram's windows summed), so it rests on events too.
    if isinstance(sli, RatioSLI) or (isinstance(sli, QuantileSLI) and crit.trend is None):
        stored = _stored_rate(out, p.name, str(crit.sli.surface), crit.sli.sli, crit.phase)
        if stored is None:
            load = p.candidate.spec.load
            drive = f"{load.users} users against {load.target}" if load else "no load declared"
            return (f"events counted over {span} per side; how many depends on the load ({drive}) and no "
                    f"stored run to estimate from; fewer than {crit.min_samples} is INCONCLUSIVE")
        rate, run = stored
        events = rate * phase_s * repeats
        flag = f" — FEWER than min_samples {crit.min_samples}: INCONCLUSIVE" if events < crit.min_samples else ""
        return f"≈{events:.0f} events per side over {span} (at the rate of stored run {run}){flag}"
    window = crit.trend.window if crit.trend and crit.trend.window else policy.spec.window
    windows = repeats * math.floor(phase_s / window + 1e-6)
    note = (f"; windows shorter than the sample interval ({_dur(p.candidate.spec.sample_interval)}) may hold no "
            "data" if window < p.candidate.spec.sample_interval else "")
    flag = f" — FEWER than min_samples {crit.min_samples}: INCONCLUSIVE" if windows < crit.min_samples else ""
    return (f"at most {windows} windows of {_dur(window)} per side over {span} (a window without data is left "
            f"out){note}{flag}")


def _stored_rate(out: Path | None, experiment: str, surface: str, sli: str, phase: str) -> tuple[float, str] | None:
    """Events per second of a ratio or quantile SLI in the newest stored completed run of this experiment."""
    if out is None:
        return None
    dirs = sorted((out / "runs").glob(f"*-{experiment}-*"), reverse=True)[:HISTORY_LIMIT]
    for run_dir in dirs:
        try:
            result = load_result(run_dir)
        except InputError:
            continue
        value = result.slis.get(surface, {}).get(sli, {}).get(phase)
        span = result.phases.get(phase)
        if result.experiment == experiment and result.status == "completed" and value and value.n and span:
            seconds = span[1] - span[0]
            if seconds > 0:
                return value.n / seconds, run_dir.name
    return None


def _waivers(waivers: list[Waiver], policy: LoadedPolicy) -> list[str]:
    if not waivers:
        return []
    active, expired = split_expired(waivers, dt.date.today())
    lines = ["waivers:"]
    for w in active:
        applies = "applies" if all(policy.candidate.get(k) == v for k, v in w.candidate.items()) else \
            "does not apply to this candidate"
        lines.append(f"  {w.criterion} [{w.experiment}] until {w.expires} ({w.owner}): {applies}")
    lines += [f"  {warning}" for warning in expired]
    return lines


def _bound(crit: Criterion) -> str:
    assert crit.bound is not None
    parts = ([f">= {crit.bound.min:g}"] if crit.bound.min is not None else []) + \
            ([f"<= {crit.bound.max:g}"] if crit.bound.max is not None else [])
    return " and ".join(parts)


def _vars(variables: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in variables.items())


def _alpha(value: float) -> str:
    return f"{value:.3g}"


def _dur(seconds: float) -> str:
    """12.5 -> '12.5s', 430 -> '7m10s', 3600 -> '1h'."""
    if seconds < 60:
        return f"{seconds:g}s"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return "".join(f"{v}{u}" for v, u in ((hours, "h"), (minutes, "m"), (secs, "s")) if v)
