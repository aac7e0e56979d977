"""The gate on a matrix: the candidate's matrix against the baseline's, cell by cell.

Each entry was judged against its own cell's baseline phase, so two matrices of the same cells
compare entry by entry: FAIL when a surface beyond the cell's target goes from OK to DEGRADED or
UNAVAILABLE (or from DEGRADED to UNAVAILABLE), or a call that gave up in the baseline never gives up
in the candidate. Entries alone miss a release broken before any fault (its own baseline phase is
already bad), so each surface's fault window is also compared across the sides
(`chaos.matrix.between`): worse in the candidate under the same fault is a FAIL too. INCONCLUSIVE
when, short of that, a candidate entry is UNKNOWN where the baseline's was OK, a fault window cannot
be told within its tolerance of the baseline's, or a cell of the baseline has no counterpart; else
PASS. A surface that is the cell's own target is expected to suffer and is not compared.

The error of a FAIL is split in two: the candidate's DEGRADED claims at half of the gate's level over
its whole matrix (its `family_alpha` per cell, see `chaos.matrix.judge`), and the comparisons of
fault windows at the other half, split over the cells."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from chaos.matrix.between import worse_under_same_fault
from chaos.matrix.model import CellResult, Entry, Matrix
from chaos.spec.surfaces import Surface
from chaos.util.stored import read_model

COMPARISON_FILE = "comparison.json"

Verdict = Literal["PASS", "FAIL", "INCONCLUSIVE"]
#: How bad an entry is, for "went from better to worse"; UNKNOWN is not on the scale.
_RANK = {"OK": 0, "DEGRADED": 1, "UNAVAILABLE": 2}


class Change(BaseModel):
    """One cell and surface whose entry got worse (or could not be told) from baseline to candidate."""

    cell: str
    surface: str = Field(description="the surface, or 'calls' for a caller's bound")
    baseline: str
    candidate: str
    fails: bool = Field(description="True: a regression; False: cannot tell")
    detail: str = ""


class Comparison(BaseModel):
    """The candidate's matrix against the baseline's."""

    verdict: Verdict
    baseline_dir: str
    baseline_vars: dict[str, str]
    candidate_vars: dict[str, str]
    changes: list[Change] = Field(default_factory=list)

    def reasons(self) -> list[str]:
        """One line per change, regressions first."""
        return [f"{c.cell}, {c.surface}: {c.baseline} -> {c.candidate}" + (f" ({c.detail})" if c.detail else "")
                for c in sorted(self.changes, key=lambda c: not c.fails)]


def _entry_change(cell: str, b: Entry, c: Entry) -> Change | None:
    if c.classification == "target":
        return None
    if c.status == "UNKNOWN":
        return Change(cell=cell, surface=c.surface, baseline=b.status, candidate=c.status, fails=False,
                      detail=c.why) if b.status == "OK" else None
    if b.status in _RANK and _RANK[c.status] > _RANK[b.status]:
        return Change(cell=cell, surface=c.surface, baseline=b.status, candidate=c.status, fails=True, detail=c.change)
    return None


def _window_changes(b: CellResult, c: CellResult, surfaces: dict[str, Surface], alpha: float,
                    known: set[tuple[str, str]]) -> list[Change]:
    changes = []
    for surface, worse, how in worse_under_same_fault(b, c, surfaces, alpha):
        if worse is False or (b.cell.id, surface) in known:
            continue
        was = next((e.status for e in b.entries if e.surface == surface), "?")
        changes.append(Change(cell=b.cell.id, surface=surface, baseline=was, fails=bool(worse), detail=how,
                              candidate="worse under the same fault" if worse else "not told within it"))
    return changes


def compare(base: Matrix, cand: Matrix, baseline_dir: str, candidate_vars: dict[str, str],
            surfaces: dict[str, Surface] | None = None, alpha: float = 0.0) -> Comparison:
    """The comparison of two matrices of the same stack and cells; with `surfaces`, each cell's fault
    windows are compared across the sides too, at `alpha` over all the cells."""
    changes: list[Change] = []
    theirs = {c.cell.id: c for c in cand.cells}
    for b in base.cells:
        c = theirs.get(b.cell.id)
        if c is None:
            changes.append(Change(cell=b.cell.id, surface="(cell)", baseline="run", candidate="not run", fails=False,
                                  detail=cand.stopped or "missing from the candidate's matrix"))
            continue
        by = {e.surface: e for e in c.entries}
        changes += [ch for e in b.entries if e.surface in by and (ch := _entry_change(b.cell.id, e, by[e.surface]))]
        if c.calls and c.calls.bounded is False and (b.calls is None or b.calls.bounded is not False):
            was = "gives up" if b.calls and b.calls.bounded else "not seen"
            changes.append(Change(cell=b.cell.id, surface="calls", baseline=was, candidate="never gives up",
                                  fails=True, detail=c.calls.finding))
        if surfaces is not None:
            known = {(ch.cell, ch.surface) for ch in changes if ch.fails}
            changes += _window_changes(b, c, surfaces, alpha / max(1, len(base.cells)), known)
    verdict: Verdict = ("FAIL" if any(ch.fails for ch in changes)
                        else "INCONCLUSIVE" if changes or cand.stopped else "PASS")
    return Comparison(verdict=verdict, baseline_dir=baseline_dir, baseline_vars=dict(base.settings.variables),
                      candidate_vars=candidate_vars, changes=changes)


def save_comparison(comparison: Comparison, folder: Path) -> None:
    """Write comparison.json into the candidate's matrix directory."""
    (folder / COMPARISON_FILE).write_text(comparison.model_dump_json(indent=2))


def load_comparison(folder: Path) -> Comparison | None:
    """A matrix directory's comparison with its baseline, if it was the candidate of one."""
    path = folder / COMPARISON_FILE
    return read_model(path, Comparison, "no comparison here") if path.exists() else None
