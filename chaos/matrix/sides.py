"""The gate on a matrix, run: the baseline's cells, then the candidate's (on one kept stack, or
sharded over engines), and the two compared (`chaos.matrix.compare`). Used by `chaosgate matrix
--candidate` and by a gate policy's `matrix` criterion."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from chaos.backends.envstore import redact
from chaos.errors import ChaosgateError
from chaos.matrix.compare import Comparison, compare, save_comparison
from chaos.matrix.model import Matrix, load_matrix
from chaos.matrix.outputs import write_summary
from chaos.matrix.runner import Prepared, run_matrix
from chaos.measure.blast import ALPHA
from chaos.run.stackpool import StackPool
from chaos.spec.surfaces import Surface

#: Runs one side's matrix at an error level: on one kept stack, or sharded over engines.
SideRunner = Callable[[Prepared, float], tuple[Matrix, Path]]


def on_pool(pool: StackPool, out_dir: Path, say: Callable[[str], None],
            on_cell: Callable[[Path], object] = lambda run_dir: None) -> SideRunner:
    """Each side on the pool's stack: the candidate's variables restart only what they change."""
    return lambda p, alpha: run_matrix(p, out_dir, say, on_cell, pool=pool, alpha=alpha)


def run_sides(baseline: Prepared, candidate: Prepared, say: Callable[[str], None], run: SideRunner,
              alpha: float = ALPHA) -> tuple[Path, Path]:
    """Both sides' matrices, the baseline's first; their directories. ChaosgateError when the
    baseline's stopped early: nothing to compare a candidate with."""
    say(f"matrix gate: the baseline's {len(baseline.cells)} cell(s), then the candidate's")
    base, base_dir = run(baseline, alpha)
    if base.stopped:
        raise ChaosgateError(f"the baseline's matrix stopped early ({base.stopped}): nothing to compare a "
                             f"candidate with; see {base_dir}")
    # Half the error for the candidate's own DEGRADED claims, half for the fault windows compared (judge_sides).
    _, cand_dir = run(candidate, alpha / 2)
    return base_dir, cand_dir


def judge_sides(base_dir: Path, cand_dir: Path, surfaces: dict[str, Surface], candidate_vars: dict[str, str],
                alpha: float = ALPHA) -> Comparison:
    """The comparison of two matrix directories (written into the candidate's, with its summary);
    `candidate_vars`: what makes the candidate, as its verdict names it."""
    cand = load_matrix(cand_dir)
    comparison = compare(load_matrix(base_dir), cand, str(base_dir), redact(candidate_vars),
                         surfaces=surfaces, alpha=alpha / 2)
    save_comparison(comparison, cand_dir)
    write_summary(cand, cand_dir)
    return comparison
