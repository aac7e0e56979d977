"""The gate report's content: the verdict, baseline-against-candidate charts, links to each run's report.

Apart from the run's views so that a run's report never loads the gate's models.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, Field

from chaos.gate.matrices import MatrixSides
from chaos.gate.verdict import GateVerdict
from chaos.measure.metrics.timeline import Timeline
from chaos.measure.result import load_plan, load_result
from chaos.report.units import axis_label
from chaos.report.views import Chart, Marker, Series, chart_times, generated_now, sli_series


class GateView(BaseModel):
    """Everything a gate report shows."""

    verdict: GateVerdict
    meaning: str
    charts: list[Chart]
    run_links: list[tuple[str, str, str]] = Field(description="(label, status, relative link to its report)")
    matrices: list[MatrixSides] = Field(default_factory=list, description="the matrix criteria's matrices")
    generated: str


def gate_view(gate_dir: Path) -> GateView:
    """The gate report's content, from the gate directory and its runs."""
    from chaos.gate.outputs import MEANING, VERDICT_FILE
    from chaos.util.stored import read_model

    verdict = read_model(gate_dir / VERDICT_FILE, GateVerdict, "not a gate directory (no verdict.json)")
    links = []
    for r in verdict.runs:
        label = f"{r.experiment} — {r.side} {r.repeat + 1}"
        if r.run_dir:
            status = f"{r.status}, run again" if r.retried else (r.status or "not run")
            links.append((label, status, os.path.relpath(Path(r.run_dir) / "report.html", gate_dir)))
        else:
            links.append((label, r.reason or "not run", ""))
    matrices = gate_matrices(gate_dir)
    for sides in matrices:
        for side, folder in (("baseline", sides.baseline_dir), ("candidate", sides.candidate_dir)):
            label = f"matrix criterion {sides.criterion!r} — {side}'s matrix"
            links.append((label, "run", os.path.relpath(Path(folder) / "report.html", gate_dir)) if folder
                         else (label, sides.reason or "not run", ""))
    return GateView(verdict=verdict, meaning=MEANING[verdict.verdict], charts=_gate_charts(verdict), run_links=links,
                    matrices=matrices,
                    generated=generated_now())


def gate_matrices(gate_dir: Path) -> list[MatrixSides]:
    """The matrices a gate's matrix criteria ran (none in a record from before they existed)."""
    from chaos.gate.runner import RECORD_FILE
    from chaos.gate.verdict import GateRecord
    from chaos.util.stored import read_model

    path = gate_dir / RECORD_FILE
    return read_model(path, GateRecord, "no gate.json").matrices if path.exists() else []


def _gate_charts(verdict: GateVerdict) -> list[Chart]:
    """Per experiment and compared SLI: every run's SLI, aligned at its fault phase's start."""
    charts = []
    wanted = {(c.experiment, c.sli, c.phase) for c in verdict.criteria if c.kind in ("vs_baseline", "trend") and c.sli}
    # In the order of the references' text, as when they were strings.
    for n, (experiment, sli_ref, phase) in enumerate(sorted(wanted, key=lambda w: (w[0], str(w[1]), w[2]))):
        series, xs, y_label = [], None, ""
        for r in verdict.runs:
            if r.experiment != experiment or not r.run_dir:
                continue
            run_dir = Path(r.run_dir)
            try:
                result, plan = load_result(run_dir), load_plan(run_dir)
            except Exception:  # noqa: BLE001 - a run without data is shown as missing, not drawn
                continue
            found = sli_ref.find(plan.surfaces)
            if found is None or phase not in result.phases or "fault" not in result.phases:
                continue
            surface, sli = found
            y_label = axis_label([sli])
            f0 = result.phases["fault"][0]
            t_end = max(p[1] for p in result.phases.values())
            times = chart_times(f0 - 10.0, t_end, plan.sample_interval)
            values = sli_series(Timeline(run_dir), sli, sli.source or surface.services[0], times)
            rel = [round(t - f0, 3) for t in times]
            if xs is None or len(rel) > len(xs):
                xs = rel
            series.append((f"{r.side} {r.repeat + 1}", r.side, rel, values))
        if not series or xs is None:
            continue
        aligned = []
        for label, side, rel, values in series:
            lookup = dict(zip(rel, values))
            aligned.append(Series(label=label, color="#1f77b4" if side == "baseline" else "#d62728",
                                  dash=side == "baseline", values=[lookup.get(x) for x in xs]))
        charts.append(Chart(id=f"gate-chart-{n}", title=f"{sli_ref} — {experiment}",
                            x_label="seconds since the fault phase started", y_label=y_label, x=xs, series=aligned,
                            markers=[Marker(label="fault phase starts", t=0.0)]))
    return charts
