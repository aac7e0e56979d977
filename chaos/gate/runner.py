"""Running a gate: baseline and candidate runs interleaved, a stack kept between them, fail-fast
looks during each candidate fault phase, and the verdict with its outputs at the end."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path

from chaos.errors import ChaosgateError
from chaos.gate.calibration import load_for
from chaos.gate.matrices import MatrixSides, run_matrices
from chaos.gate.outputs import write_outputs
from chaos.gate.policy import LoadedPolicy, PlannedExperiment
from chaos.gate.verdict import (
    GateRecord,
    GateRun,
    GateVerdict,
    Look,
    Spending,
    StoredRun,
    compare_criterion,
    evaluate,
    final_alpha,
    look_budget,
    look_fraction,
    looks_per_run,
    pool_runs,
)
from chaos.gate.waivers import Waiver, split_expired
from chaos.measure.metrics.sources import READ_TIMEOUT_S
from chaos.measure.stats import load_libraries
from chaos.run.engine import Engine, Stop
from chaos.run.reconcile import reconcile_all
from chaos.run.stackpool import StackPool
from chaos.util.rundirs import GATES, new_dir, new_id
from chaos.util.stored import read_model

RECORD_FILE = "gate.json"
#: A look only uses samples this old: every read stamped earlier has been written by then.
SETTLED_S = READ_TIMEOUT_S + 1.0


class Gate:
    """One gate run: `run()` returns the verdict after writing it into the gate directory."""

    def __init__(self, policy: LoadedPolicy, out_dir: Path, say: Callable[[str], None], seed: int = 0,
                 fail_fast: bool | None = None, waivers: list[Waiver] | None = None):
        self.policy, self.out_dir, self.say = policy, out_dir, say
        gate_id = new_id()
        self.dir = new_dir(out_dir, GATES, policy.spec.name, gate_id)
        self.record = GateRecord(policy=str(policy.path), gate_id=gate_id, baseline=policy.baseline,
                                 candidate=policy.candidate, seed=seed,
                                 fail_fast=policy.spec.fail_fast if fail_fast is None else fail_fast,
                                 stack_reuse=policy.spec.reuse_stack)
        self.waivers, self.warnings = split_expired(waivers or [], dt.date.today())
        self.spending = Spending(look_budget(policy))
        # The verdict loads it again and lists its warnings; looks need it while runs go on.
        self.calibration, self._calibration_notes = load_for(policy)

    def run(self) -> GateVerdict:
        """Run every planned run (until fail-fast stops the rest), then judge."""
        self.dir.mkdir(parents=True, exist_ok=True)
        for w in self.warnings + self._calibration_notes:
            self.say(w)
        if self.calibration:
            self.say(f"using the calibration of {self.calibration.pairs} A/A pair(s) beside the policy: its "
                     "run-to-run variance is added to every calibrated comparison")
        reconcile_all(self.out_dir, self.say)
        pool = StackPool(self.out_dir, self.record.gate_id, self.say)
        plan = [(r, p, side) for r in range(self.policy.spec.repeats) for p in self.policy.experiments
                for side in ("baseline", "candidate")]
        try:
            for n, (repeat, p, side) in enumerate(plan, 1):
                if self.record.stopped_early:
                    self.record.runs.append(GateRun(experiment=p.name, side=side, repeat=repeat,
                                                    reason=f"not run: {self.record.stopped_early}"))
                    continue
                self.say(f"gate {self.policy.spec.name}: run {n} of {len(plan)}: {p.name}, {side}, "
                         f"repeat {repeat + 1} of {self.policy.spec.repeats}")
                self._one(pool, repeat, p, side)
                self._save()
            if self.policy.matrices and not self.record.stopped_early:
                run_matrices(self.policy, pool, self.out_dir, self.say, self._note_matrix,
                             final_alpha(self.policy, self.record.fail_fast))
                ran = {m.criterion for m in self.record.matrices if m.candidate_dir}
                self.record.declared_s += sum(m.declared_s() for m in self.policy.matrices if m.criterion in ran)
        finally:
            pool.release()
            self.record.ended_at = time.time()
            self._save()
        return self.judge()

    def judge(self) -> GateVerdict:
        """The verdict from the record, written with every output."""
        verdict = evaluate(self.policy, self.record, self.dir, self.waivers, self.warnings)
        write_outputs(verdict, self.dir)
        return verdict

    def _note_matrix(self, sides: MatrixSides) -> None:
        if not any(m is sides for m in self.record.matrices):
            self.record.matrices.append(sides)
        self._save()

    def _save(self) -> None:
        (self.dir / RECORD_FILE).write_text(self.record.model_dump_json(indent=2))

    def _one(self, pool: StackPool, repeat: int, p: PlannedExperiment, side: str) -> None:
        """One planned run, run again (up to `retries`) while its baseline is not steady."""
        for attempt in range(self.policy.spec.retries + 1):
            gr = self._attempt(pool, repeat, p, side)
            if not gr.retried:
                return
            if attempt == self.policy.spec.retries:
                gr.retried = False  # the last attempt stands: the gate cannot tell, and says so
                return
            self.say(f"{p.name} {side}: the baseline was not steady before any fault; running it again "
                     f"(attempt {attempt + 2} of {self.policy.spec.retries + 1})")

    def _attempt(self, pool: StackPool, repeat: int, p: PlannedExperiment, side: str) -> GateRun:
        exp = p.baseline if side == "baseline" else p.candidate
        gr = GateRun(experiment=p.name, side=side, repeat=repeat)
        self.record.runs.append(gr)
        lease = None
        if self.policy.spec.reuse_stack:
            try:
                lease = pool.acquire(exp.stack, exp.spec.backend)
            except ChaosgateError as exc:
                gr.status, gr.reason = "failed", f"the stack did not start: {exc}"
                self.say(f"{p.name} {side}: {gr.reason}")
                return gr
        watch = self._watcher(p, repeat, gr) if side == "candidate" and self.record.fail_fast else None
        engine = Engine(exp, self.out_dir, self.say, lease=lease, watch=watch, reconcile=False)
        gr.run_dir = str(engine.run_dir)
        self._save()  # the run directory is known before the run: a crash still leaves it findable
        result = engine.run()
        gr.status, gr.reason = result.status, result.reason
        # Unsteady before any fault: the environment was not ready, nothing about the candidate was seen.
        gr.retried = (result.status == "inconclusive" and any(not c.passed for c in result.steady_state)
                      and all(f.injected_at is None for f in result.faults))
        # A run cut short counts the phase time it had, not the time it was spared.
        self.record.declared_s += (sum(t1 - t0 for t0, t1 in result.phases.values())
                                   if gr.stopped_by_gate or gr.retried else exp.spec.phases.total())
        self.say(f"{p.name} {side}: {result.status}" + (f" ({result.reason})" if result.reason else ""))
        return gr

    def _watcher(self, p: PlannedExperiment, repeat: int, gr: GateRun) -> Callable[[Engine, float], None]:
        """Fail-fast: every look_every seconds of the fault phase, test the critical comparisons.

        Each (criterion, experiment) pair spends its budget (look_budget) linearly in the candidate
        fault time seen, and only on looks that can decide: a look with too few samples spends
        nothing, and the next one that can decide gets what accrued since the last. The looks'
        errors add up to at most the budget (the union bound), however many there are."""
        criteria = [c for c in self.policy.spec.criteria
                    if c.critical and c.vs_baseline and c.phase == "fault" and c.applies_to(p.name)]
        of = looks_per_run(self.policy, p) * self.policy.spec.repeats
        if criteria:
            load_libraries()  # before the run: the first look that decides must not wait for imports
        looks = 0
        next_look: float | None = None
        # The runs before this one are finished: read and pooled once, not on every look.
        runs = [StoredRun(g) for g in self.record.runs if g.experiment == p.name and g is not gr and not g.retried]
        base = [r for r in runs if r.gr.side == "baseline" and r.problem is None]
        cand = [r for r in runs if r.gr.side == "candidate" and r.problem is None]
        pooled_base = {c.name: pool_runs(base, c, p, self.policy.spec.window) for c in criteria}

        def watch(engine: Engine, now: float) -> None:
            nonlocal looks, next_look
            t0 = engine.result.phases["fault"][0]
            if next_look is None:
                next_look = t0 + self.policy.spec.look_every
            if not criteria or now < next_look:
                return
            next_look += self.policy.spec.look_every
            if next_look <= now:  # a slow tick skips looks rather than bunching them up
                next_look = now + self.policy.spec.look_every
            looks += 1
            k = repeat * looks_per_run(self.policy, p) + looks
            # The data the look judges ends where every read up to it is in the timeline: what
            # re-judging will find exactly. Without a sampler, the longest a read can take.
            at = min(engine.sampler.settled_until(), now) if engine.sampler else now - SETTLED_S
            fraction = look_fraction(self.policy, p, repeat, at - t0)
            current = StoredRun(gr, engine.result)
            run_dir = gr.run_dir
            assert run_dir is not None, "the run directory is recorded before the run starts"
            for i, crit in enumerate(self.policy.spec.criteria):
                if crit not in criteria:
                    continue
                key = (crit.name, p.name)
                alpha = self.spending.available(key, fraction)
                if alpha <= 0:
                    continue
                d = compare_criterion(self.policy, crit, p, base, cand + [current], alpha,
                                      self.record.seed * 1000 + i, (run_dir, at), pooled_base[crit.name],
                                      self.calibration.find(crit.name, p.name) if self.calibration else None)
                if d.effect is None:
                    continue  # could not decide (too few samples): nothing spent, it accrues
                self.spending.spend(key, fraction)
                if d.verdict == "FAIL":
                    self.record.looks.append(Look(criterion=crit.name, experiment=p.name, run_dir=run_dir,
                                                  at=at, look=k, of=of, alpha=alpha, decided_at=now))
                    # Timed from the injection, which comes after the phase starts; the look judges
                    # the data up to `at`, which lags the clock by the settling time.
                    injected = min((f.injected_at for f in engine.result.faults if f.injected_at), default=t0)
                    self.record.stopped_early = (
                        f"fail-fast: {crit.name!r} failed in {p.name} at look {k} of {of}, "
                        f"{now - injected:.1f}s after the candidate's fault was injected "
                        f"(judged on its data up to {max(at - injected, 0.0):.1f}s, at alpha {alpha:.2g})")
                    gr.stopped_by_gate = True
                    self._save()
                    self.say(self.record.stopped_early)
                    raise Stop("aborted", f"gate {self.record.stopped_early}: {d.reason}")

        return watch


def rejudge(policy: LoadedPolicy, gate_dir: Path, waivers: list[Waiver]) -> GateVerdict:
    """Judge a gate directory's stored runs again with (possibly changed) policy and waivers."""
    record = read_model(gate_dir / RECORD_FILE, GateRecord, "not a gate directory (no gate.json)")
    active, warnings = split_expired(waivers, dt.date.today())
    verdict = evaluate(policy, record, gate_dir, active, warnings)
    write_outputs(verdict, gate_dir)
    return verdict
