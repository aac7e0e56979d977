"""A matrix sharded over Docker engines (`--engines`): each engine runs a share of the cells on a
stack of its own, all at the same time, and the shares merge into one matrix.

Cells are independent given a clean stack, so where a cell runs does not change what it measures.
Each share is a process of its own, spawned, because the docker backend takes its engine from the
process's DOCKER_HOST. Every share judges at the whole matrix's error level (0.05 over all its
cells), so a merged entry means what it would mean unsharded. A share whose parent dies (SIGKILL)
interrupts itself, which rolls its fault back and takes its stack down; `chaosgate rollback`
reconciles what is left, on the engine each run recorded."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from chaos.errors import ChaosgateError, InputError
from chaos.matrix.cells import Cell
from chaos.matrix.model import Matrix, Shard, load_matrix
from chaos.matrix.runner import CELLS_DIR, DEADLINE_SLACK_S, Prepared, finish, run_cells, start_matrix
from chaos.measure.blast import ALPHA
from chaos.run.reconcile import reconcile_all
from chaos.run.stackpool import StackPool
from chaos.spec.experiment import load_experiment

SHARDS_DIR = "shards"
#: Seconds a share may take to start its process and first stack beyond its cells' own slack.
START_S = 120.0
#: Seconds a share is given to roll back and take its stack down once told to stop.
STOP_GRACE_S = 180.0
#: How a person names this machine's own engine in --engines.
LOCAL_NAMES = ("local", "default")


def engines_of(values: list[str]) -> list[str]:
    """The engines --engines names (comma-separated, repeatable), "" for this machine's socket."""
    engines = [v.strip() for value in values for v in value.split(",") if v.strip()]
    engines = ["" if e in LOCAL_NAMES else e for e in engines]
    if not engines:
        raise InputError("--engines", "name at least one engine: a DOCKER_HOST value (tcp://HOST:PORT, "
                                      "unix:///PATH) or 'local'")
    repeated = sorted({e or "local" for e in engines if engines.count(e) > 1})
    if repeated:
        raise InputError("--engines", f"{', '.join(repeated)} named twice: each share needs an engine of its own")
    return engines


def check_engines(engines: list[str]) -> None:
    """Every engine answers; InfraError naming the first that does not. Nothing is started."""
    from chaos.components import containers

    for engine in engines:
        containers.connect(engine=engine).close()


def split(cells: list[Cell], shares: int) -> list[list[Cell]]:
    """Cells dealt out in turn, so kinds and links spread evenly over the shares; no empty share."""
    return [share for share in (cells[k::shares] for k in range(shares)) if share]


@dataclass
class ShardJob:
    """What a share's process needs: picklable, the variables kept out of any file."""

    index: int
    engine: str
    cells: list[Cell]
    matrix: Matrix
    folder: str
    out_dir: str
    variables: dict[str, str]
    parent_pid: int
    on_cell: Callable[[Path], object] | None


def run_sharded(p: Prepared, engines: list[str], out_dir: Path, say: Callable[[str], None],
                on_cell: Callable[[Path], object] | None = None, alpha: float = ALPHA) -> tuple[Matrix, Path]:
    """Run the matrix's cells dealt over `engines`, at the same time; the merged matrix and its
    directory. `alpha`: the error level of a DEGRADED anywhere in the whole matrix."""
    check_engines(engines)
    matrix, folder, _ = start_matrix(p, out_dir, say, alpha)
    shares = split(p.cells, len(engines))
    matrix.shards = [Shard(engine=e, cells=[c.id for c in share]) for e, share in zip(engines, shares)]
    matrix.save(folder)
    reconcile_all(out_dir, say)  # once, here: a share must never reconcile another's live runs
    longest = max(len(s) for s in shares)
    deadline = time.monotonic() + START_S + longest * (p.settings.cell_s() + DEADLINE_SLACK_S)
    say(f"matrix {p.stack.name}: {len(p.cells)} cell(s) over {len(shares)} engine(s), at most {longest} "
        f"a share: about {longest * p.settings.cell_s() / 60:.0f} min of phases")
    ctx = multiprocessing.get_context("spawn")
    procs: list[multiprocessing.process.BaseProcess] = []
    started = time.monotonic()
    try:
        for k, (engine, share) in enumerate(zip(engines, shares)):
            job = ShardJob(k, engine, share, matrix.model_copy(update={"shards": []}), str(folder), str(out_dir),
                           dict(p.variables), os.getpid(), on_cell)
            proc = ctx.Process(target=_share, args=(job,), name=f"chaosgate-shard-{k}", daemon=False)
            proc.start()
            procs.append(proc)
        _wait(procs, deadline, matrix, say)
    except BaseException:
        say("matrix: stopping every share (each rolls back its fault and takes its stack down)")
        _stop(procs)
        raise
    finally:
        _merge(matrix, folder, procs, p.cells, time.monotonic() - started)
        finish(matrix, folder)
    return matrix, folder


def _wait(procs: list, deadline: float, matrix: Matrix, say: Callable[[str], None]) -> None:
    """Until every share ends, or the deadline: then the shares still running are stopped."""
    while any(proc.is_alive() for proc in procs):
        if time.monotonic() > deadline:
            late = [matrix.shards[k].engine or "local" for k, proc in enumerate(procs) if proc.is_alive()]
            say(f"matrix: the share(s) on {', '.join(late)} passed the matrix's deadline; stopping them")
            matrix.stopped = f"deadline passed on {', '.join(late)}"
            _stop(procs)
            return
        for proc in procs:
            proc.join(timeout=1.0)


def _stop(procs: list) -> None:
    """SIGTERM to every share still running (it rolls back), then SIGKILL past the grace."""
    for proc in procs:
        if proc.is_alive():
            proc.terminate()
    end = time.monotonic() + STOP_GRACE_S
    for proc in procs:
        proc.join(timeout=max(0.0, end - time.monotonic()))
        if proc.is_alive():
            proc.kill()  # its journal stays: `chaosgate rollback` reconciles it
            proc.join(timeout=10)


def _merge(matrix: Matrix, folder: Path, procs: list, cells: list[Cell], wall_s: float) -> None:
    """Each share's cells into the matrix, in the matrix's own order; each share's end noted."""
    order = {c.id: n for n, c in enumerate(cells)}
    stops = [matrix.stopped] if matrix.stopped else []
    merged = []
    for k, shard in enumerate(matrix.shards):
        proc = procs[k] if k < len(procs) else None
        code = proc.exitcode if proc is not None else None
        shard.status = "done" if code == 0 else "interrupted" if code is None or code < 0 or code == 130 else "failed"
        shard.wall_s = round(wall_s, 1)
        try:
            part = load_matrix(folder / SHARDS_DIR / str(k))
        except ChaosgateError:
            shard.reason = "it stored no matrix"
            stops.append(f"share on {shard.engine or 'local'}: {shard.reason}")
            continue
        merged.extend(part.cells)
        shard.wall_s = round((part.ended_at or time.time()) - part.started_at, 1)
        if part.stopped:
            shard.reason = part.stopped
            stops.append(f"share on {shard.engine or 'local'}: {part.stopped}")
        elif shard.status != "done":
            stops.append(f"share on {shard.engine or 'local'}: {shard.status}")
    matrix.cells = sorted(merged, key=lambda c: order.get(c.cell.id, len(order)))
    matrix.stopped = "; ".join(stops) or None


def _share(job: ShardJob) -> None:
    """A share's process: its cells in turn on a stack of its own on its engine."""
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # unwinds, rolling back, as Ctrl-C does
    if job.engine:
        os.environ["DOCKER_HOST"] = job.engine
    else:
        os.environ.pop("DOCKER_HOST", None)
    where = job.engine or "local"

    def say(message: str) -> None:
        print(f"[{where}] {message}", file=sys.stderr, flush=True)

    threading.Thread(target=_orphan_watch, args=(job.parent_pid,), daemon=True).start()
    folder = Path(job.folder) / SHARDS_DIR / str(job.index)
    folder.mkdir(parents=True, exist_ok=True)
    matrix = job.matrix
    matrix.started_at = time.time()
    backend = matrix.settings.backend
    code = 0
    pool = StackPool(Path(job.out_dir), f"{matrix.matrix_id}-{job.index}", say)
    try:
        cells = [(c, load_experiment(Path(job.folder) / CELLS_DIR / f"{c.slug()}.yaml", job.variables,
                                     backend=backend)) for c in job.cells]
        run_cells(cells, matrix, folder, Path(job.out_dir), say, job.on_cell or (lambda _: None), pool)
    except KeyboardInterrupt:
        matrix.stopped, code = "interrupted", 130
    except ChaosgateError as exc:
        matrix.stopped, code = str(exc), 2
    finally:
        try:
            pool.release()
        finally:
            matrix.ended_at = time.time()
            matrix.save(folder)
    sys.exit(code)


def _orphan_watch(parent_pid: int) -> None:
    """A share outlives its parent only long enough to roll back: a SIGKILLed parent is re-parented away."""
    while os.getppid() == parent_pid:
        time.sleep(1.0)
    os.kill(os.getpid(), signal.SIGTERM)
