"""The matrix report's content: the calls that never give up, and the heat map (rows the surfaces,
columns the cells), each column linking to its cell's run report."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel

from chaos.matrix.compare import Comparison, load_comparison
from chaos.matrix.model import Entry, Matrix, load_matrix
from chaos.matrix.outputs import entry_text
from chaos.report.views import Chart, generated_now


class Column(BaseModel):
    """One cell's column head: its id, how its fault landed, and the link to its run's report."""

    id: str
    kind: str
    landed: str
    href: str | None


class Square(BaseModel):
    """One entry of the heat map: its tone (a CSS class), the word shown and the hover text."""

    tone: str
    word: str
    title: str


class MatrixView(BaseModel):
    """Everything the matrix report shows."""

    matrix: Matrix
    comparison: Comparison | None = None
    columns: list[Column]
    rows: list[tuple[str, list[Square]]]
    charts: list[Chart] = []
    generated: str


_WORD = {"OK": "ok", "DEGRADED": "deg", "UNAVAILABLE": "down", "UNKNOWN": "?"}


def _square(e: Entry | None) -> Square:
    if e is None:
        return Square(tone="none", word="", title="not run")
    target = " (the cell's target)" if e.classification == "target" else ""
    return Square(tone=e.status + (" target" if target else ""), word=_WORD[e.status],
                  title=f"{entry_text(e).replace('**', '')}{target}" + (f" — {e.why}" if e.why else ""))


def matrix_view(folder: Path) -> MatrixView:
    """The matrix report's content, from matrix.json and its cells' runs."""
    m = load_matrix(folder)
    columns = []
    for c in m.cells:
        report = Path(c.run_dir) / "report.html" if c.run_dir else None
        href = os.path.relpath(report, folder) if report and report.exists() else None
        landed = {True: "landed", False: "did not land", None: "landing not shown"}[c.landed] if c.run_status else "not run"
        columns.append(Column(id=c.cell.id, kind=c.cell.kind, landed=landed, href=href))
    rows = []
    for surface in m.surfaces:
        rows.append((surface, [_square(next((e for e in c.entries if e.surface == surface), None)) for c in m.cells]))
    return MatrixView(matrix=m, comparison=load_comparison(folder), columns=columns, rows=rows,
                      generated=generated_now())
