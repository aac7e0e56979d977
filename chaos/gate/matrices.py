"""A policy's matrix criteria: each runs the resilience matrix of its cells for the baseline and the
candidate, after the experiments and on the gate's kept stack, and judges the candidate's against
the baseline's (`chaos.matrix.compare`) at the criterion's share of the policy's alpha."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, Field

from chaos.errors import ChaosgateError
from chaos.gate.policy import LoadedPolicy, PlannedMatrix
from chaos.matrix.compare import COMPARISON_FILE, Verdict
from chaos.matrix.sides import judge_sides, on_pool, run_sides
from chaos.run.stackpool import StackPool

#: Cells named in a verdict's reason; the rest are counted (comparison.json has every one).
NAMED = 4


class MatrixSides(BaseModel):
    """A matrix criterion's two matrices in a gate record, or why they are not there."""

    criterion: str
    baseline_dir: str | None = None
    candidate_dir: str | None = None
    reason: str | None = Field(None, description="why it was not run, or stopped")


def run_matrices(policy: LoadedPolicy, pool: StackPool, out_dir: Path, say: Callable[[str], None],
                 record: Callable[[MatrixSides], None], alpha: float) -> None:
    """Each matrix criterion's sides in turn; `record` is told of each (before and after it runs)."""
    for planned in policy.matrices:
        sides = MatrixSides(criterion=planned.criterion)
        record(sides)
        say(f"gate {policy.spec.name}: matrix criterion {planned.criterion!r}: {len(planned.baseline.cells)} "
            f"cell(s) a side")
        try:
            base_dir, cand_dir = run_sides(planned.baseline, planned.candidate, say, on_pool(pool, out_dir, say),
                                           alpha)
        except ChaosgateError as exc:
            sides.reason = str(exc)
            say(f"matrix criterion {planned.criterion!r}: {exc}")
        else:
            sides.baseline_dir, sides.candidate_dir = str(base_dir), str(cand_dir)
        record(sides)


def judge_matrix(planned: PlannedMatrix, sides: MatrixSides | None, candidate: dict[str, str], alpha: float
                 ) -> tuple[Verdict, str]:
    """The criterion's verdict (PASS / FAIL / INCONCLUSIVE) and its reason (the comparison behind it
    is written beside the candidate's matrix)."""
    if sides is None or sides.baseline_dir is None or sides.candidate_dir is None:
        return "INCONCLUSIVE", f"the matrices were not run: {sides.reason if sides else 'no record of them'}"
    comparison = judge_sides(Path(sides.baseline_dir), Path(sides.candidate_dir), planned.candidate.surfaces,
                             candidate, alpha)
    cells = len(planned.baseline.cells)
    if comparison.verdict == "PASS":
        return "PASS", f"no cell of {cells} did worse for the candidate, no call stopped giving up"
    decisive = [c for c in comparison.changes if c.fails] or comparison.changes
    by_cell: dict[str, list[str]] = {}
    for change in decisive:
        by_cell.setdefault(change.cell, []).append(f"{change.surface} {change.baseline} -> {change.candidate}")
    shown = [f"{cell}: {', '.join(what)}" for cell, what in list(by_cell.items())[:NAMED]]
    more = f"; {len(by_cell) - NAMED} more cell(s)" if len(by_cell) > NAMED else ""
    what = "did worse for the candidate" if comparison.verdict == "FAIL" else "could not be told"
    return (comparison.verdict, f"{len(by_cell)} cell(s) of {cells} {what}: " + "; ".join(shown) + more
            + f" (every change with its statistics: {Path(sides.candidate_dir) / COMPARISON_FILE})")
