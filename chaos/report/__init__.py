"""Self-contained HTML reports: one file per run, per gate and per matrix, and an index of a reports folder.

Each page embeds its data and its chart library (uPlot, vendored in `static/`, MIT): it opens
from a file or an artifact store with no request outside itself. Templates are Jinja2 with
autoescape on; everything a user wrote reaches the page escaped.
"""

from __future__ import annotations

import os
import time
from functools import lru_cache
from pathlib import Path

REPORT_FILE = "report.html"
INDEX_FILE = "index.html"
_HERE = Path(__file__).resolve().parent


@lru_cache(maxsize=1)
def _env():
    from jinja2 import Environment, FileSystemBytecodeCache, FileSystemLoader, select_autoescape
    from markupsafe import Markup

    # Compiling the templates took ~45 ms of every run's report; jinja2 keeps the compiled code in a
    # private per-user temporary folder, keyed by each template's checksum (an edited template recompiles).
    try:
        cache = FileSystemBytecodeCache()
    except RuntimeError:  # jinja2 refuses a cache folder someone else owns: compile every time instead
        cache = None
    env = Environment(loader=FileSystemLoader(_HERE / "templates"), autoescape=select_autoescape(["html", "j2"]),
                      trim_blocks=True, lstrip_blocks=True, bytecode_cache=cache)
    # The vendored chart library is ours, not a user's: it goes into the page as it is.
    env.globals["chart_js"] = Markup((_HERE / "static" / "uPlot.iife.min.js").read_text())
    env.globals["chart_css"] = Markup((_HERE / "static" / "uPlot.min.css").read_text())
    env.filters["when"] = lambda t: time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)) if t else "?"
    return env


def render_run(run_dir: Path | str) -> Path:
    """Write the run directory's report.html; its path."""
    from chaos.report.views import run_view

    run_dir = Path(run_dir)
    return _write(run_dir / REPORT_FILE, "run.html.j2", run_view(run_dir))


def render_gate(gate_dir: Path | str) -> Path:
    """Write the gate directory's report.html (and each of its runs' and matrices' reports); its path."""
    from chaos.matrix.model import load_matrix
    from chaos.report.gate_view import gate_view

    gate_dir = Path(gate_dir)
    view = gate_view(gate_dir)
    runs = [run.run_dir for run in view.verdict.runs]
    folders = [f for m in view.matrices for f in (m.baseline_dir, m.candidate_dir) if f]
    runs += [c.run_dir for f in folders for c in load_matrix(f).cells]
    for run_dir in runs:
        if run_dir and (Path(run_dir) / "result.json").exists():
            render_run(run_dir)
    for folder in folders:
        render_matrix(folder)
    return _write(gate_dir / REPORT_FILE, "gate.html.j2", view)


def render_matrix(folder: Path | str) -> Path:
    """Write the matrix directory's report.html (the heat map); its path."""
    from chaos.report.matrix_view import matrix_view

    folder = Path(folder)
    return _write(folder / REPORT_FILE, "matrix.html.j2", matrix_view(folder))


def _write(path: Path, template: str, view) -> Path:
    page = _env().get_template(template).render(v=view, charts=[c.model_dump() for c in view.charts])
    return _replace(path, page)


def _replace(path: Path, page: str) -> Path:
    """Write a page whole or not at all: a matrix's shards refresh one index at the same time."""
    part = path.with_name(f".{path.name}.{os.getpid()}.part")
    part.write_text(page, encoding="utf-8")
    os.replace(part, path)
    return path


def render_index(out_dir: Path | str) -> Path:
    """Write out_dir/index.html: every run and gate under it, newest first; its path."""
    from chaos.report.index import entries

    out_dir = Path(out_dir)
    page = _env().get_template("index.html.j2").render(entries=entries(out_dir), folder=str(out_dir), charts=[])
    return _replace(out_dir / INDEX_FILE, page)
