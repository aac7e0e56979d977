"""An experiment's life: stack up → load → warmup → baseline (hypothesis) → fault → recovery →
roll back and verify → stack down → result.json. Every path out rolls back.
"""

from __future__ import annotations

import functools
import signal
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from chaos import backends
from chaos.backends.envstore import redact
from chaos.backends.state import StackState
from chaos.errors import ChaosgateError
from chaos.faults import Fault, FaultContext
from chaos.faults.landing import Landing, NoEvidence, Probe
from chaos.load.runner import FLOW_TIMEOUT_S, LoadRunner
from chaos.measure.measurement import measure
from chaos.measure.metrics.promql import promql_source
from chaos.measure.metrics.sampler import Sampler
from chaos.measure.metrics.sources import sources_for
from chaos.measure.metrics.timeline import Timeline
from chaos.measure.recovery import RecoveryWatch
from chaos.measure.result import (
    EXPERIMENT_COPY,
    CheckResult,
    FaultRecord,
    LoadTotals,
    Rollback,
    RunPlan,
    RunResult,
    Status,
)
from chaos.measure.sli import SLIValue, evaluate
from chaos.run.journal import Journal, PhaseStart, RunEnd, RunStart
from chaos.run.reconcile import claim, reconcile_all, rollback_journal, verify_gone
from chaos.spec.experiment import LoadedExperiment
from chaos.spec.surfaces import SLIRef, wanted_metrics
from chaos.util.rundirs import RUNS, new_dir, new_id

if TYPE_CHECKING:
    from chaos.run.stackpool import Lease

#: Seconds between engine ticks (fault schedule, stop conditions, progress).
TICK_S = 0.25
#: Seconds between progress lines on the terminal.
PROGRESS_EVERY_S = 5.0


class Stop(Exception):
    """The run must end now: a stop condition, the deadline, or an inconclusive baseline."""

    def __init__(self, status: Status, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


class Engine:
    """Runs one loaded experiment."""

    def __init__(self, exp: LoadedExperiment, out_dir: Path, say: Callable[[str], None] = lambda m: None,
                 lease: Lease | None = None, watch: Callable[[Engine, float], None] | None = None,
                 reconcile: bool = True):
        """`lease`: a started stack to use (and leave running) instead of starting one; `watch`:
        called every tick of the fault phase, may raise Stop (a gate's fail-fast); `reconcile`:
        reconcile earlier runs first (a gate does it once for all its runs)."""
        self.exp, self.spec, self.out_dir, self.say = exp, exp.spec, out_dir, say
        self.lease, self.watch, self.reconcile = lease, watch, reconcile
        self.run_id = new_id()
        self.run_dir = new_dir(out_dir, RUNS, self.spec.name, self.run_id)
        self.result = RunResult(experiment=self.spec.name, file=str(exp.path), run_id=self.run_id,
                                run_dir=str(self.run_dir), variables=redact(exp.stack.variables))
        self.faults = [FaultRecord(type=f.type, targets=t) for f, t in zip(self.spec.faults, exp.targets)]
        self.result.faults = self.faults
        self.probes: dict[int, Probe] = {}  # by fault index, while the fault is in place
        self.state: StackState | None = None
        self.load: LoadRunner | None = None
        self.sampler: Sampler | None = None
        self._last_stop_check = 0.0
        self._last_progress = 0.0
        self.stage = "starting"  # what a live view shows: a phase, or the end's rollback

    @property
    def started(self) -> StackState:
        """The state of the stack the run is on; set in `_execute` before anything uses the stack."""
        assert self.state is not None, "the stack is not up yet"
        return self.state

    # --- the run ----------------------------------------------------------------------------
    def run(self) -> RunResult:
        """Carry out the experiment; always rolls back and stops the stack before returning."""
        if self.reconcile:
            self.result.reconciled_before = reconcile_all(self.out_dir, self.say)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        claim(self.run_dir)
        self._write_plan()
        self.journal, self.timeline = Journal(self.run_dir), Timeline(self.run_dir)
        self.journal.event(RunStart(experiment=self.spec.name))
        for warning in self.exp.warnings:
            self.say(f"warning: {warning}")
        previous_alarm = self._arm_deadline()
        interrupted: BaseException | None = None
        try:
            self._execute()
            self.result.status = "completed"
        except Stop as stop:
            self.result.status, self.result.reason = stop.status, stop.reason
        except ChaosgateError as exc:
            self.result.status, self.result.reason = "failed", str(exc)
        except Exception as exc:  # noqa: BLE001 - chaosgate's own bug: record it, still roll back
            (self.run_dir / "engine-error.txt").write_text(traceback.format_exc())
            self.result.status, self.result.reason = "failed", f"internal error: {exc!r} (see engine-error.txt)"
        except BaseException as exc:  # noqa: BLE001 - Ctrl-C, SIGTERM: roll back, then re-raised below
            interrupted = exc
            self.result.status, self.result.reason = "aborted", f"interrupted ({exc})"
        finally:
            # Before anything else: no deadline and no signal may cut the rollback short.
            deferred = _defer_signals()
            _disarm_deadline(previous_alarm)
            try:
                self._cleanup()
            finally:
                _restore_signals(deferred)
        if interrupted is not None:
            raise interrupted
        return self.result

    def _write_plan(self) -> None:
        write_plan(self.exp, self.run_dir)

    def _execute(self) -> None:
        if self.lease is not None:
            self.state, self.result.stack = self.lease.state, self.lease.reuse
            self.say(f"run {self.run_id}: on the stack in {self.lease.state.run_dir}")
        else:
            self.say(f"run {self.run_id}: starting stack {self.exp.stack.name!r}")
            self.state = backends.get(self.spec.backend, say=self.say).up(self.exp.stack, self.run_dir)
        self.timeline.mark(time.time(), "stack_up")
        sources = (sources_for(self.state.services, wanted_metrics(self.exp.surfaces))
                   + [promql_source(s) for s in self.spec.metric_sources])
        if self.spec.load:
            load = self._start_load()
            sources.append(load.source())
            # Phases are timed from the first completed request, not from locust's launch.
            self.say(f"load: flowing after {load.wait_flowing():.1f}s")
        self.sampler = Sampler(sources, self.timeline, self.spec.sample_interval).start()
        phases = self.spec.phases
        self._phase("warmup", phases.warmup)
        self._phase("baseline", phases.baseline)
        self._check_hypothesis()
        self._phase("fault", phases.fault)
        self._remove_faults()
        self._phase("recovery", phases.recovery, self._recovered_watch() if phases.until_recovered else None)

    def _start_load(self) -> LoadRunner:
        load = self.spec.load
        assert load is not None, "only an experiment with load starts it"
        target = self.started.services[load.target]
        host = target.url()
        if isinstance(load.workers, list):
            # Both checked when the experiment loads: worker hosts need reach, and the local backend
            # (which they need too) gives every service a port.
            assert load.reach is not None and target.port is not None
            host = self._load_entry(load.reach, target.port)
        bound_s = self.spec.phases.total() + FLOW_TIMEOUT_S + 5
        self.load = LoadRunner(self.exp.path.parent / load.profile, host, load.users, load.spawn_rate, bound_s,
                               self.run_dir / "load", load.workers, load.environment, reach=load.reach or "127.0.0.1")
        self.load.start()
        hosts = (", workers on " + ", ".join(w.host for w in load.workers) if isinstance(load.workers, list)
                 else f", {load.workers} workers" if load.workers else "")
        self.say(f"load: {load.users} users against {load.target}{hosts}")
        return self.load

    def _load_entry(self, reach: str, port: int) -> str:
        """Worker hosts cannot reach 127.0.0.1 here: a proxy of the stack's toxiproxy on `reach`
        forwards to the target. Journaled like a fault, so no crash leaves it behind."""
        from chaos.components.toxiproxy import ToxiproxyClient
        from chaos.faults.network import DeleteProxy
        from chaos.util.ports import free_port

        client = ToxiproxyClient(self.started.toxiproxy_url or "")
        name, listen = f"chaosgate-load-{self.run_id}", f"{reach}:{free_port(reach)}"
        entry = self.journal.intend("load.entry", name, DeleteProxy(url=client.url, proxy=name))
        client.create_proxy(name, listen, f"127.0.0.1:{port}")
        self.journal.mark(entry, "injected")
        return f"http://{listen}"

    def _recovered_watch(self) -> Callable[[float], bool] | None:
        """`until_recovered`: true once every surface is back, judged on settled data only."""
        if self.sampler is None:
            return None
        watch = RecoveryWatch(self.timeline, self.exp.surfaces, self.result.phases["baseline"], time.time())
        sampler = self.sampler

        def back(now: float) -> bool:
            if not watch.back(min(sampler.settled_until(), now)):
                return False
            self.say(f"recovery: every surface back {(watch.back_at or now) - watch.healed_at:.1f}s after the heal; "
                     "ending the phase")
            return True

        return back

    def _phase(self, name: str, seconds: float, done: Callable[[float], bool] | None = None) -> None:
        """Run a phase for `seconds`, or until `done(now)` says it may end."""
        t0 = time.time()
        self.stage = name
        self.timeline.mark(t0, "phase", name=name)
        self.journal.event(PhaseStart(name=name))
        if seconds > 0:
            self.say(f"phase {name} ({seconds:g}s)")
        end = t0 + seconds
        try:
            while (now := time.time()) < end:
                self.result.phases[name] = (t0, now)  # a phase in progress, as far as it got
                self._tick(name, now, t0, end)
                if done is not None and done(now):
                    break
                time.sleep(max(0.0, min(TICK_S, end - time.time())))
        finally:
            # Also when cut short (stop condition, deadline, signal): the radius up to that moment.
            self.result.phases[name] = (t0, time.time())

    def _tick(self, phase: str, now: float, t0: float, end: float) -> None:
        if phase == "fault":
            for i, (spec, record) in enumerate(zip(self.spec.faults, self.faults)):
                if record.injected_at is None and now >= t0 + spec.start:
                    self._inject(i, spec, record)
                elif (record.removed_at is None and record.injected_at is not None and spec.duration is not None
                      and now >= t0 + spec.start + spec.duration):
                    self._remove(i, record)
                elif i in self.probes:
                    self.probes[i].sample(now)
            if self.watch is not None:
                self.watch(self, now)
        if phase != "warmup" and now - self._last_stop_check >= 1.0:
            self._last_stop_check = now
            self._check_stop_conditions(now)
        if self.load and not self.load.alive():
            raise ChaosgateError(f"locust exited early ({self.load.why_it_ended()})")
        if now - self._last_progress >= PROGRESS_EVERY_S:
            self._last_progress = now
            active = [f.type for f in self.faults if f.injected_at and not f.removed_at]
            self.say(f"{phase}: {end - now:.0f}s left; faults active: {', '.join(active) or 'none'}")

    # --- faults -----------------------------------------------------------------------------
    def _inject(self, index: int, spec: Fault, record: FaultRecord) -> None:
        ctx = FaultContext(self.run_id, self.exp.stack, self.started, self.journal, self.spec.allow_hosts)
        try:
            self.probes[index] = spec.probe(ctx)  # before injecting: its counters start from before the fault
        except ChaosgateError as exc:  # an infrastructure answer; the fault still runs, but cannot show it landed
            self.probes[index] = NoEvidence(record.targets, f"nothing could be observed: {exc}")
        record.injected_at = time.time()
        record.journal_ids = spec.inject(ctx)
        self.probes[index].injected([e.undo for e in self.journal.entries() if e.id in record.journal_ids])
        self.timeline.mark(record.injected_at, "fault_injected", type=spec.type, targets=record.targets)
        self.say(f"injected {spec.type} on {', '.join(record.targets)}")

    def _landed(self, index: int, record: FaultRecord) -> None:
        """What the fault's probe saw, into its record (before the fault is removed)."""
        probe = self.probes.pop(index, None)
        if probe is not None:
            record.landing = Landing.of(probe.finish(time.time()))
            if not record.landing.landed:
                self.say(f"{record.type} did not land: {record.landing.summary()}")

    def _remove(self, index: int, record: FaultRecord) -> None:
        self._landed(index, record)
        rollback_journal(self.journal, only=set(record.journal_ids))
        record.removed_at = time.time()
        self.timeline.mark(record.removed_at, "fault_removed", type=record.type, targets=record.targets)
        self.say(f"removed {record.type}")

    def _remove_faults(self) -> None:
        for i, record in enumerate(self.faults):
            if record.injected_at is not None and record.removed_at is None:
                self._remove(i, record)

    # --- hypothesis and stop conditions ------------------------------------------------------
    def _sli(self, ref: SLIRef, t0: float, t1: float) -> SLIValue:
        found = ref.find(self.exp.surfaces)
        assert found is not None, f"{ref} was checked when the experiment was loaded"
        surface, sli = found
        return evaluate(self.timeline, sli, sli.source or surface.services[0], t0, t1)

    def _check_hypothesis(self) -> None:
        t0, t1 = self.result.phases["baseline"]
        if self.sampler:
            self.sampler.sample_once()  # the baseline's last moment is in the timeline
            t1 = time.time()
        failed = []
        for check in self.spec.steady_state:
            v = self._sli(check.sli, t0, t1)
            ok = v.value is not None and (check.min is None or v.value >= check.min) and (
                check.max is None or v.value <= check.max)
            self.result.steady_state.append(CheckResult(sli=check.sli, value=v.value, min=check.min, max=check.max,
                                                        passed=ok, note=v.missing))
            if not ok:
                failed.append(f"{check.sli}={'no data' if v.value is None else f'{v.value:.4g}'}")
        if failed:
            raise Stop("inconclusive", "steady state did not hold in the baseline: " + ", ".join(failed))

    def _check_stop_conditions(self, now: float) -> None:
        for cond in self.spec.stop_conditions:
            v = self._sli(cond.sli, now - cond.for_, now)
            if v.value is None:
                continue
            if (cond.below is not None and v.value < cond.below) or (cond.above is not None and v.value > cond.above):
                bound = f"below {cond.below}" if cond.below is not None else f"above {cond.above}"
                self.timeline.mark(now, "stop_condition", sli=str(cond.sli), value=v.value)
                raise Stop("aborted", f"stop condition: {cond.sli} = {v.value:.4g}, {bound} over {cond.for_:g}s")

    # --- deadline -----------------------------------------------------------------------------
    def _arm_deadline(self):
        """SIGALRM at the deadline raises Stop in the main thread, even inside a blocked call."""
        if threading.current_thread() is not threading.main_thread():
            return None

        def expired(_signum: int, _frame: object) -> None:
            raise Stop("aborted", f"deadline of {self.spec.deadline:g}s reached")

        previous = signal.signal(signal.SIGALRM, expired)
        signal.setitimer(signal.ITIMER_REAL, self.spec.deadline)
        return previous

    # --- the end, on every path ---------------------------------------------------------------
    def _cleanup(self) -> None:
        """Roll back, stop sampling and load, measure, take the stack down, save the result.

        Each step runs whatever the steps before it raised: a bug in measurement must not leave
        the stack up or the run without a result.json. The first such error is the run's reason."""
        self.stage = "rolling back"
        errors = [err for step, name in ((self._roll_back, "rollback"), (self._stop_sampling, "sampling"),
                                         (self._stop_load, "load"), (self._compute_slis, "measurement"),
                                         (self._stack_down, "stack down"))
                  if (err := self._guarded(step, name)) is not None]
        self.result.ended_at = time.time()
        rollback = self.result.rollback
        if rollback is not None and (rollback.failures or rollback.leftovers):
            self.result.status = "failed"
            self.result.reason = f"rollback incomplete: {rollback.failures + rollback.leftovers}"
        elif errors:
            self.result.status = "failed"
            self.result.reason = f"internal error at the end of the run: {errors[0]} (see engine-error.txt)"
        self._guarded(lambda: self.journal.event(RunEnd(status=self.result.status, reason=self.result.reason)),
                      "journal")
        self.result.save()

    def _guarded(self, step: Callable[[], None], name: str) -> str | None:
        """Run one cleanup step; on an exception, its traceback into engine-error.txt and a line back."""
        try:
            step()
            return None
        except Exception as exc:  # noqa: BLE001 - any failure of one step must not skip the steps after it
            with (self.run_dir / "engine-error.txt").open("a") as f:
                f.write(f"during {name}:\n{traceback.format_exc()}\n")
            self.say(f"error during {name}: {exc!r}")
            return f"{name}: {exc!r}"

    def _roll_back(self) -> None:
        for i, record in enumerate(self.faults):
            if record.removed_at is None:
                self._guarded(functools.partial(self._landed, i, record), "landing evidence")
        now = time.time()
        failures = rollback_journal(self.journal)
        for record in self.faults:
            if record.injected_at is not None and record.removed_at is None:
                record.removed_at = now
        leftovers = verify_gone(self.journal) if self.state else []
        self.result.rollback = Rollback(entries=len(self.journal.entries()), failures=failures,
                                        outstanding=[e.fault for e in self.journal.outstanding()], leftovers=leftovers)

    def _stop_sampling(self) -> None:
        if self.sampler:
            self.sampler.stop()
            try:
                if self.state is not None:
                    self.sampler.sample_once()  # the last phase's end is in the timeline
            finally:
                self.sampler.close()

    def _stop_load(self) -> None:
        if self.load:
            self.load.stop()
            totals = self.load.totals()
            self.result.load = LoadTotals.model_validate(totals) if totals else None

    def _compute_slis(self) -> None:
        measure(self.exp, self.result, self.timeline)

    def _stack_down(self) -> None:
        if self.state is not None and self.lease is None:
            backends.get(self.spec.backend, say=self.say).down(self.state)


def write_plan(exp: LoadedExperiment, run_dir: Path) -> None:
    """The experiment as declared, and what the run is about to do: what a report reads later."""
    import hashlib

    from chaos import __version__
    from chaos.measure.blast import target_services

    declared = exp.path.read_bytes()
    (run_dir / EXPERIMENT_COPY).write_bytes(declared)
    RunPlan(experiment=exp.spec.name, file=str(exp.path), sha256=hashlib.sha256(declared).hexdigest(),
            backend=exp.spec.backend, chaosgate_version=__version__, sample_interval=exp.spec.sample_interval,
            surfaces=exp.surfaces, services=list(exp.stack.services),
            links=[(s, link.to) for s, link in exp.stack.links()], target_services=sorted(target_services(exp)),
            expected_radius=exp.spec.expected_radius).save(run_dir)


def _disarm_deadline(previous) -> None:
    if previous is not None:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _defer_signals() -> dict:
    """While rolling back, SIGINT and SIGTERM are noted, not obeyed: rollback must finish."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {s: signal.signal(s, lambda *_: None) for s in (signal.SIGINT, signal.SIGTERM)}


def _restore_signals(previous: dict) -> None:
    for s, handler in previous.items():
        signal.signal(s, handler)
