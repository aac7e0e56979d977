"""The candidate's cell against the baseline's same cell: is the stack worse under the same fault?

Each side's entries are judged against that side's own pre-fault phase, which misses a release
that is broken before any fault: its baseline phase is already bad, so its fault window looks no
worse than it (and a hang cannot land where no call reaches the link). Both sides ran the same
cell, so their fault windows are the same conditions: a surface beyond the cell's target whose
fault window is worse in the candidate than in the baseline, beyond the surface's tolerance, is a
regression however either side's own entries read.

Each SLI is judged with the radius's statistics (`chaos.measure.blast.judge_between`): worse at
`alpha` (the caller's share of the error over its whole matrix, split here over the SLIs), within
its tolerance by its one-sided bound at ALPHA (an intersection-union claim, as in the radius), or
unknown: a straddle is a change that cannot be told, never nothing."""

from __future__ import annotations

from pathlib import Path

from chaos.errors import InputError
from chaos.matrix.model import CellResult
from chaos.measure.blast import judge_between
from chaos.measure.metrics.timeline import Timeline
from chaos.measure.result import load_plan, load_result
from chaos.spec.surfaces import Surface


class Side:
    """One side's run of a cell: its fault window and its timeline, or why it cannot be compared."""

    def __init__(self, cell: CellResult):
        self.timeline: Timeline | None = None
        self.fault: tuple[float, float] | None = None
        self.window_s = 1.0  # one value per sample, as the run's radius judged it (its plan says)
        self.problem = ""
        if cell.run_dir is None or not (Path(cell.run_dir) / "timeline.db").exists():
            self.problem = f"no measured run ({cell.reason or cell.run_status or 'not run'})"
            return
        try:
            result = load_result(cell.run_dir)
            self.window_s = load_plan(cell.run_dir).sample_interval
        except InputError as exc:
            self.problem = f"its result cannot be read: {exc}"
            return
        if "fault" not in result.phases:
            self.problem = f"no fault phase was measured ({result.reason or result.status})"
            return
        self.fault = result.phases["fault"]
        self.timeline = Timeline(cell.run_dir)


def worse_under_same_fault(base: CellResult, cand: CellResult, surfaces: dict[str, Surface],
                           alpha: float) -> list[tuple[str, bool | None, str]]:
    """Per surface beyond the cell's target: (surface, worse? True / False / None unknown, how told)."""
    targets = {e.surface for e in cand.entries if e.classification == "target"}
    b, c = Side(base), Side(cand)
    compared = {n: s for n, s in surfaces.items() if n not in targets}
    if b.problem or c.problem:
        why = f"the baseline's run: {b.problem}" if b.problem else f"the candidate's run: {c.problem}"
        return [(name, None, f"cannot compare the fault windows: {why}") for name in compared]
    assert b.timeline and b.fault and c.timeline and c.fault  # no problem: both measured
    per_sli = alpha / max(1, sum(len(s.slis) for s in compared.values()))
    found = []
    for name, surface in compared.items():
        worse: bool | None = False
        told = []
        for sli_name, sli in surface.slis.items():
            source = sli.source or surface.services[0]
            verdict, how = judge_between(sli, source, (b.timeline, b.fault), (c.timeline, c.fault), c.window_s,
                                         per_sli)
            if verdict is True:
                worse = True
            elif verdict is None and worse is False:
                worse = None
            if verdict is not False:
                told.append(f"{sli_name}: {how}")
        found.append((name, worse, "; ".join(told)))
    return found
