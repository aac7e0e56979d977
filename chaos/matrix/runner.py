"""Running a matrix: every cell an experiment of its own, written beside the matrix (a person can
rerun one with `chaosgate run`), all checked before anything starts, run in turn on one kept stack.

Each cell has its own warmup and baseline right before its fault, so a cell is judged against the
stack as it was a few seconds earlier: drift over a long matrix cannot pass for damage. Between
cells the stack's reset is verified as a gate's stack reuse verifies it (`chaos.run.stackpool`):
no toxic left, every proxy enabled, no broker connection or capacity hold of chaosgate's, every
service healthy; anything else is a fresh stack."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import ValidationError

from chaos.backends.envstore import redact
from chaos.errors import ChaosgateError, InputError, InputErrors
from chaos.matrix.cells import MEANING, Cell, Kind, Skipped, select
from chaos.matrix.judge import call_bound, entries
from chaos.matrix.model import CellResult, Matrix, Settings
from chaos.matrix.outputs import write_summary
from chaos.measure.blast import ALPHA
from chaos.measure.metrics.timeline import Timeline
from chaos.run.engine import Engine
from chaos.run.reconcile import reconcile_all
from chaos.run.stackpool import StackPool
from chaos.spec.experiment import SURFACES_DIR, LoadedExperiment, load_experiment
from chaos.spec.surfaces import Surface
from chaos.stack import Stack, load_stack
from chaos.util.rundirs import MATRICES, new_dir, new_id
from chaos.util.yamlsource import load_yaml, validate_all

#: Seconds a cell may take beyond its phases: the first cell starts the stack, a kill restarts a service.
DEADLINE_SLACK_S = 300.0
CELLS_DIR = "cells"


@dataclass
class Prepared:
    """A matrix checked and ready: nothing started yet."""

    settings: Settings
    stack: Stack
    cells: list[Cell]
    skipped: list[Skipped]
    surfaces: dict[str, Surface]
    surfaces_data: dict
    variables: dict[str, str]  # as given: the settings (written down) hold them masked


def surfaces_file(name: str, stack_path: Path) -> Path:
    """A surface set: a YAML file, or a name looked up as surfaces/NAME.yaml or
    experiments/surfaces/NAME.yaml beside the stack file and in the folders above it."""
    given = Path(name)
    if given.suffix in (".yaml", ".yml") or given.is_file():
        if not given.is_file():
            raise InputError("--surfaces", f"no surface set file at {name!r}")
        return given.resolve()
    folders = [stack_path.parent, *stack_path.parents][:6]
    for folder in folders:
        for candidate in (folder / SURFACES_DIR / f"{name}.yaml", folder / "experiments" / SURFACES_DIR / f"{name}.yaml"):
            if candidate.is_file():
                return candidate.resolve()
    raise InputError("--surfaces", f"no surface set {name!r}: looked for {SURFACES_DIR}/{name}.yaml beside "
                     f"{stack_path} and above, or give a file path")


def prepare(stack_path: Path, surfaces: str, *, kinds: list[Kind], patterns: list[str],
            backend: str = "local", variables: dict[str, str] | None = None, load: str | None = None,
            target: str | None = None, users: int = 10, load_environment: dict[str, str] | None = None,
            **windows: float) -> Prepared:
    """Read the stack and the surface set, choose the cells, and check every cell's experiment;
    InputErrors naming file, line and field of every problem. Nothing is started."""
    if not stack_path.is_file():
        raise InputError(stack_path, "no such compose file (give one with -f)")
    stack_path = stack_path.resolve()
    stack = load_stack(stack_path, variables or {})
    path = surfaces_file(surfaces, stack_path)
    doc = load_yaml(path)
    if not isinstance(doc.data, dict) or not doc.data:
        raise InputError(path, "a surface set is a mapping of surface names to surfaces (services, slis)", 1)
    found, _, problems = validate_all(doc, dict[str, Surface], {}, keep=list(doc.data))
    for name, surface in (found or {}).items():
        for j, service in enumerate(surface.services):
            if service not in stack.services:
                problems.append(doc.error([name, "services", j], f"no service {service!r} in {stack_path.name} "
                                          f"(services: {', '.join(stack.services)})"))
        for sli_name, sli in surface.slis.items():
            if load is None and getattr(sli, "source", None) == "load":
                problems.append(doc.error([name, "slis", sli_name, "source"], "source 'load' reads the load's own "
                                          "figures: give --load PROFILE --target SERVICE"))
    if problems or found is None:
        raise InputErrors(problems)
    if (load is None) != (target is None):
        raise InputError("--load" if load is None else "--target", "--load PROFILE and --target SERVICE go together: "
                         "the load is sent to the target's main port")
    if target is not None and target not in stack.services:
        raise InputError("--target", f"no service {target!r} in {stack_path.name} (services: {', '.join(stack.services)})")
    if load is not None and not Path(load).is_file():
        raise InputError("--load", f"no locustfile at {load!r}")
    window = windows.get("window_s", 30.0)
    try:
        settings = Settings(stack=str(stack_path), surfaces=str(path), backend=backend, variables=redact(variables or {}),
                            load_profile=str(Path(load).resolve()) if load else None, target=target, users=users,
                            load_environment=load_environment or {}, kinds=kinds, patterns=patterns,
                            **{"unbounded_after_s": round(window * 2 / 3, 1), **windows})
    except ValidationError as exc:
        # The options a person gave, by their flags: --users 0, or a slow latency of 0 ms.
        first = exc.errors()[0]
        flag = "--" + str(first["loc"][0]).removesuffix("_s").replace("_", "-")
        raise InputError(flag, first["msg"]) from None
    cells, skipped = select(stack, kinds, patterns, backend, settings.slow_ms)
    if not cells:
        raise InputError("--cells", f"no cell matches {', '.join(patterns) or 'the fault kinds asked for'}"
                         + (f" ({len(skipped)} skipped: {skipped[0].why})" if skipped else ""))
    return Prepared(settings, stack, cells, skipped, found, doc.data, dict(variables or {}))


def cell_experiment(p: Prepared, cell: Cell) -> dict:
    """The experiment a cell runs, as its YAML file says it."""
    s = p.settings
    exp: dict = {
        "name": f"matrix-{cell.slug()}",
        "description": f"chaosgate matrix cell {cell.id}: {MEANING[cell.kind]}",
        # No `variables`: --set values are given when the cell is loaded, never written under reports/.
        "stack": s.stack, "backend": s.backend,
        # The recovery ends as soon as every surface is back: recovery_s is the longest wait.
        "phases": {"warmup": f"{s.warmup_s:g}s", "baseline": f"{s.baseline_s:g}s", "fault": f"{s.window_s:g}s",
                   "recovery": f"{s.recovery_s:g}s", "until_recovered": True},
        "deadline": f"{s.cell_s() + DEADLINE_SLACK_S:g}s",
        "faults": [cell.fault(s.slow_ms)],
        "surfaces": p.surfaces_data,
        "expected_radius": [],
    }
    if s.load_profile:
        exp["load"] = {"profile": s.load_profile, "target": s.target, "users": s.users,
                       "environment": dict(s.load_environment)}
    return exp


def write_cells(p: Prepared, folder: Path) -> list[tuple[Cell, LoadedExperiment]]:
    """Each cell's experiment file in `folder`, loaded and checked."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for cell in p.cells:
        path = folder / f"{cell.slug()}.yaml"
        path.write_text(f"# generated by `chaosgate matrix` for cell {cell.id}\n"
                        + yaml.safe_dump(cell_experiment(p, cell), sort_keys=False))
        out.append((cell, load_experiment(path, p.variables, backend=p.settings.backend)))
    return out


def run_matrix(p: Prepared, out_dir: Path, say: Callable[[str], None],
               on_cell: Callable[[Path], object] = lambda run_dir: None,
               pool: StackPool | None = None, alpha: float = ALPHA) -> tuple[Matrix, Path]:
    """Run every cell in turn on one kept stack; the matrix (also in matrix.json) and its directory.
    `pool`: the caller's kept stack (a matrix gate's two sides share it; the caller releases it);
    `alpha`: the error level of a DEGRADED anywhere in the matrix."""
    matrix, folder, cells = start_matrix(p, out_dir, say, alpha)
    own = pool is None
    if own:
        reconcile_all(out_dir, say)
    pool = pool or StackPool(out_dir, matrix.matrix_id, say)
    try:
        run_cells(cells, matrix, folder, out_dir, say, on_cell, pool)
    finally:
        if own:
            pool.release()
        finish(matrix, folder)
    return matrix, folder


def start_matrix(p: Prepared, out_dir: Path, say: Callable[[str], None], alpha: float = ALPHA
                 ) -> tuple[Matrix, Path, list[tuple[Cell, LoadedExperiment]]]:
    """The matrix's directory with every cell's experiment written and checked, and its matrix.json
    begun; nothing started yet. The error level is split over all the cells, however they are run."""
    matrix_id = new_id()
    folder = new_dir(out_dir, MATRICES, p.stack.name, matrix_id)
    cells = write_cells(p, folder / CELLS_DIR)  # before anything starts: a cell that cannot load stops here
    matrix = Matrix(matrix_id=matrix_id, stack_name=p.stack.name, settings=p.settings, surfaces=list(p.surfaces),
                    skipped=p.skipped, family_alpha=alpha / len(p.cells), started_at=time.time())
    matrix.save(folder)
    for s in p.skipped:
        say(f"matrix: skipping {s.id}: {s.why}")
    return matrix, folder, cells


def finish(matrix: Matrix, folder: Path) -> None:
    """The matrix's end written down: matrix.json and summary.md."""
    matrix.ended_at = time.time()
    matrix.save(folder)
    write_summary(matrix, folder)


def run_cells(cells: list[tuple[Cell, LoadedExperiment]], matrix: Matrix, folder: Path, out_dir: Path,
              say: Callable[[str], None], on_cell: Callable[[Path], object], pool: StackPool) -> None:
    """Each cell's run in turn on the pool's kept stack, judged at the matrix's error level and
    added to `matrix` (saved after every step: a crash leaves each run findable)."""
    s = matrix.settings
    for n, (cell, exp) in enumerate(cells, 1):
        say(f"matrix {matrix.stack_name}: cell {n} of {len(cells)}: {cell.id} ({MEANING[cell.kind]}); "
            f"about {s.cell_s() * (len(cells) - n + 1) / 60:.0f} min of phases left")
        result = CellResult(cell=cell, experiment=str(exp.path))
        matrix.cells.append(result)
        try:
            lease = pool.acquire(exp.stack, exp.spec.backend)
        except ChaosgateError as exc:
            result.run_status, result.reason = "failed", f"the stack did not start: {exc}"
            matrix.stopped = f"cell {cell.id}: {result.reason}"
            say(f"matrix: {matrix.stopped}; the cells after it are not run")
            return
        engine = Engine(exp, out_dir, say, lease=lease, reconcile=False)
        result.run_dir = str(engine.run_dir)
        matrix.save(folder)  # the run directory is known before the run: a crash leaves it findable
        run = engine.run()
        _judge(result, exp, run, matrix.family_alpha, s)
        on_cell(Path(run.run_dir))
        say(f"matrix: {cell.id}: " + ", ".join(f"{e.surface} {e.status}" for e in result.entries)
            + (f"; {result.calls.edge}: {result.calls.finding}" if result.calls else ""))
        matrix.save(folder)


def _judge(result: CellResult, exp: LoadedExperiment, run, family: float, settings: Settings) -> None:
    result.run_status, result.reason = run.status, run.reason
    landing = run.faults[0].landing if run.faults else None
    result.landed = landing.landed if landing else None
    result.landing = landing.summary() if landing else "never injected"
    timeline = Timeline(run.run_dir) if (Path(run.run_dir) / "timeline.db").exists() else None
    result.entries = entries(exp, run, timeline, family)
    result.calls = call_bound(result.cell, landing, result.entries, settings)
