"""chaosgate as a library: run an experiment, run or re-judge a gate, read what they stored.

The `chaosgate` command is these functions plus argument parsing and printing. Progress goes to
the `chaos` logger (`logging.getLogger("chaos")`): a caller that wants it on the terminal
configures logging, one that does not hears nothing. Errors are `chaos.errors` exceptions.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

from chaos.errors import ChaosgateError, InputError

if TYPE_CHECKING:
    from chaos.gate.calibration import Calibration
    from chaos.gate.verdict import GateVerdict
    from chaos.matrix.compare import Comparison
    from chaos.matrix.model import Matrix
    from chaos.matrix.runner import Prepared
    from chaos.measure.result import RunResult
    from chaos.run.engine import Engine
    from chaos.run.stackpool import Lease, StackPool
    from chaos.spec.experiment import LoadedExperiment

log = logging.getLogger("chaos")

#: Repeats a caller may ask of a gate, whatever its policy says.
REPEATS_RANGE = (1, 20)


def _say(message: str) -> None:
    log.info(message)


def run_experiment(path: Path | str, *, out: Path | str = "reports", variables: dict[str, str] | None = None,
                   backend: str | None = None, attach: bool = False, report: bool = True,
                   around: Callable[[Engine], AbstractContextManager[object]] | None = None,
                   say: Callable[[str], None] = _say) -> RunResult:
    """Load, run and report one experiment; its RunResult (status, reason, SLIs, blast radius).

    `attach`: run on the stack `chaosgate stack up` started for it (checked clean) instead of
    starting one. `around`: a context the run happens inside (the CLI's live console)."""
    from chaos.run.engine import Engine
    from chaos.spec.experiment import load_experiment

    exp = load_experiment(path, variables, backend=backend)
    out = Path(out)
    engine = Engine(exp, out, say, lease=attach_lease(exp, out) if attach else None)
    try:
        with around(engine) if around else nullcontext():
            return engine.run()
    finally:
        # Also when Ctrl-C or SIGTERM cut the run short: its report says so.
        if report:
            page = report_run(engine.run_dir, out, say)
            if page and sys.exc_info()[0] is not None:
                say(f"report: {page}")


def attach_lease(exp: LoadedExperiment, out: Path) -> Lease:
    """The running stack of the experiment's name (`chaosgate stack up`), checked clean, as a lease."""
    from chaos.gameday import outstanding, running_stack
    from chaos.measure.result import StackReuse
    from chaos.run.stackpool import Lease, verify_reset

    state = running_stack(out, exp.stack.name)
    active = outstanding(state)
    if active:
        raise ChaosgateError(f"stack {state.name!r} has {len(active)} fault(s) injected by hand still active: "
                             "heal them first (`chaosgate heal --all`)")
    exp.spec.backend = state.backend  # type: ignore[assignment]
    checks = verify_reset(exp.stack, state)
    bad = {k: v for k, v in checks.items() if v != "ok"}
    if bad:
        raise ChaosgateError(f"stack {state.name!r} is not in a clean state: {bad}")
    return Lease(state=state, reuse=StackReuse(stack_dir=state.run_dir, reused=True, checks=checks))


def run_gate(policy_path: Path | str, *, candidate: dict[str, str] | None = None,
             baseline: dict[str, str] | None = None, variables: dict[str, str] | None = None,
             backend: str | None = None, only: list[str] | None = None, out: Path | str = "reports",
             waivers: Path | str | None = None, seed: int = 0, fail_fast: bool | None = None,
             repeats: int | None = None, reuse_stack: bool = True, from_dir: Path | str | None = None,
             report: bool = True, say: Callable[[str], None] = _say) -> GateVerdict:
    """Run a gate (or, with `from_dir`, re-judge a stored one) and report it; its GateVerdict.

    `waivers`: a waiver file instead of the policy's own; `fail_fast=None` keeps the policy's."""
    from chaos.gate.policy import load_policy
    from chaos.gate.waivers import load_waivers

    policy = load_policy(policy_path, candidate or {}, baseline or {}, variables or {}, backend, only)
    if not reuse_stack:
        policy.spec.reuse_stack = False
    if repeats is not None:
        low, high = REPEATS_RANGE
        if not low <= repeats <= high:
            raise InputError("--repeats", f"{repeats} is not between {low} and {high}")
        policy.spec.repeats = repeats
    # A policy's own waiver file is named relative to the policy, as its experiments are.
    waiver_file = waivers or (policy.path.parent / policy.spec.waivers if policy.spec.waivers else None)
    loaded = load_waivers(str(waiver_file)) if waiver_file else []
    if from_dir is not None:
        from chaos.gate.runner import rejudge

        verdict = rejudge(policy, Path(from_dir), loaded)
    else:
        from chaos.gate.runner import Gate

        gate = Gate(policy, Path(out), say, seed=seed, fail_fast=fail_fast, waivers=loaded)
        say(f"gate {policy.spec.name}: {len(policy.experiments)} experiment(s) x {policy.spec.repeats} repeat(s) x "
            f"baseline/candidate" + (f", then {len(policy.matrices)} matrix criterion(s)" if policy.matrices else "")
            + f", into {gate.dir}")
        verdict = gate.run()
    if report:
        _report_gate(verdict, say)
    return verdict


def calibrate_policy(policy_path: Path | str, *, pairs: int, variables: dict[str, str] | None = None,
                     backend: str | None = None, only: list[str] | None = None, out: Path | str = "reports",
                     say: Callable[[str], None] = _say) -> tuple[Calibration, Path]:
    """Measure a policy's run-to-run noise with `pairs` A/A pairs; the calibration and its file."""
    from chaos.gate.calibrate import calibrate
    from chaos.gate.policy import load_policy

    if not 2 <= pairs <= REPEATS_RANGE[1]:
        raise InputError("--pairs", f"{pairs} is not between 2 and {REPEATS_RANGE[1]} (a variance needs two)")
    policy = load_policy(policy_path, {}, {}, variables or {}, backend, only)
    return calibrate(policy, Path(out), pairs, say)


def run_matrix(prepared: Prepared, *, out: Path | str = "reports", say: Callable[[str], None] = _say,
               pool: StackPool | None = None, engines: list[str] | None = None) -> tuple[Matrix, Path]:
    """Run a prepared matrix (`chaos.matrix.runner.prepare`), each cell's run reported; the matrix and its folder.
    `engines`: DOCKER_HOSTs to shard the cells over, each share on a stack of its own at the same time."""
    from functools import partial

    from chaos.matrix.runner import run_matrix as run
    from chaos.matrix.shards import run_sharded
    from chaos.report import render_matrix

    out = Path(out)
    if engines and pool is not None:
        raise ChaosgateError("a kept stack (pool) is one engine's: a sharded matrix keeps one per engine itself")
    if engines:
        # A share's process reports its own runs: the callback crosses to it by name (picklable).
        matrix, folder = run_sharded(prepared, engines, out, say, on_cell=partial(report_run, out=out))
    else:
        matrix, folder = run(prepared, out, say, on_cell=lambda run_dir: report_run(run_dir, out, say), pool=pool)
    write_reports(lambda: render_matrix(folder), out, say)
    return matrix, folder


def gate_matrix(baseline: Prepared, candidate: Prepared, candidate_vars: dict[str, str], *,
                out: Path | str = "reports", say: Callable[[str], None] = _say,
                engines: list[str] | None = None) -> tuple[Comparison, Path, Path]:
    """The gate on a matrix: the baseline's matrix, then the candidate's, compared cell by cell;
    the comparison (also in the candidate's comparison.json) and both matrix directories.
    `candidate_vars`: the variables that make the candidate (`candidate` was prepared with them);
    `engines`: DOCKER_HOSTs to shard each side over (each share on a stack of its own)."""
    from functools import partial

    from chaos.matrix.shards import run_sharded
    from chaos.matrix.sides import judge_sides, on_pool, run_sides
    from chaos.report import render_matrix
    from chaos.run.reconcile import reconcile_all
    from chaos.run.stackpool import StackPool
    from chaos.util.rundirs import new_id

    out = Path(out)
    if engines:
        # A share's process reports its own runs: the callback crosses to it by name (picklable).
        report = partial(report_run, out=out)
        base_dir, cand_dir = run_sides(baseline, candidate, say,
                                       lambda p, alpha: run_sharded(p, engines, out, say, report, alpha))
    else:
        reconcile_all(out, say)
        pool = StackPool(out, new_id(), say)
        try:
            base_dir, cand_dir = run_sides(baseline, candidate, say,
                                           on_pool(pool, out, say, lambda run_dir: report_run(run_dir, out, say)))
        finally:
            pool.release()
    comparison = judge_sides(base_dir, cand_dir, candidate.surfaces, candidate_vars)
    write_reports(lambda: render_matrix(base_dir), out, say)
    write_reports(lambda: render_matrix(cand_dir), out, say)
    return comparison, base_dir, cand_dir


def _report_gate(verdict: GateVerdict, say: Callable[[str], None]) -> None:
    """The gate's HTML report, its path recorded in verdict.json too."""
    from chaos.gate.outputs import VERDICT_FILE
    from chaos.report import render_gate

    gate_dir = Path(verdict.gate_dir)
    path = write_reports(lambda: render_gate(gate_dir), gate_dir.parent.parent, say)
    verdict.report = str(path) if path else None
    if verdict.report:
        (gate_dir / VERDICT_FILE).write_text(verdict.model_dump_json(indent=2))


def load_result(run_dir: Path | str) -> RunResult:
    """A stored run's result.json, typed."""
    from chaos.measure.result import load_result as load

    return load(run_dir)


def load_verdict(gate_dir: Path | str) -> GateVerdict:
    """A stored gate's verdict.json, typed."""
    from chaos.gate.outputs import VERDICT_FILE
    from chaos.gate.verdict import GateVerdict
    from chaos.util.stored import read_model

    return read_model(Path(gate_dir) / VERDICT_FILE, GateVerdict, "no verdict.json here: is this a gate directory?")


def report_run(run_dir: Path | str, out: Path | str, say: Callable[[str], None] = _say) -> Path | None:
    """A finished run's report.html (None when it stored no result) and the folder's index refreshed."""
    from chaos.report import render_run

    run_dir = Path(run_dir)
    return write_reports(lambda: render_run(run_dir) if (run_dir / "result.json").exists() else None, Path(out), say)


def write_reports(render: Callable[[], Path | None], out: Path, say: Callable[[str], None] = _say) -> Path | None:
    """Render a report and refresh the folder's index; a failure to render is said, never fatal."""
    from chaos.report import render_index

    try:
        path = render()
        render_index(out)
        return path
    except Exception as exc:  # noqa: BLE001 - the run's outcome stands even when its page cannot be drawn
        say(f"the HTML report could not be written: {exc.__class__.__name__}: {exc}")
        return None
