"""What a report shows, built from stored data only (plan.json, result.json, timeline.db,
journal.db, verdict.json): typed views the templates render, and chart data the page draws."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pydantic import BaseModel, Field

from chaos.measure.metrics.timeline import Timeline
from chaos.measure.result import EXPERIMENT_COPY, RunPlan, RunResult, load_plan, load_result
from chaos.report.radius_map import RadiusMap, layout
from chaos.report.series import windowed
from chaos.report.units import unit_groups
from chaos.spec.surfaces import SLIDef

#: Each point of a chart is the SLI over the window ending there (the blast radius's window).
WINDOW_S = 5.0
#: At most this many points per series: a long run is drawn at a coarser step, never truncated.
MAX_POINTS = 400
COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]


class Band(BaseModel):
    label: str
    t0: float
    t1: float


class Marker(BaseModel):
    label: str
    t: float


class Series(BaseModel):
    label: str
    color: str
    values: list[float | None] = Field(description="None where there was no data: drawn as a gap, never zero")
    dash: bool = False


class Chart(BaseModel):
    id: str
    title: str
    x_label: str
    y_label: str = Field("", description="the unit every series is in: a chart draws SLIs of one unit only")
    x: list[float]
    series: list[Series]
    bands: list[Band] = Field(default_factory=list)
    markers: list[Marker] = Field(default_factory=list)


class SLIRow(BaseModel):
    surface: str
    sli: str
    classification: str
    baseline: str
    fault: str
    recovery: str
    degraded: str
    judged: str


class JournalRow(BaseModel):
    fault: str
    target: str
    steps: list[str]
    state: str
    detail: str | None


class RunView(BaseModel):
    """Everything a run report shows."""

    title: str
    status: str
    headline: str
    result: RunResult
    plan: RunPlan | None
    experiment_text: str | None
    radius_map: RadiusMap | None
    charts: list[Chart]
    slis: list[SLIRow]
    journal: list[JournalRow]
    generated: str


def _fmt(v: float | None) -> str:
    return "no data" if v is None else f"{v:.4g}"


def _clock(t: float, t0: float) -> str:
    return f"{t - t0:+.1f} s"


def headline(result: RunResult) -> str:
    """The run in one sentence."""
    radius = result.blast_radius
    what = {"completed": "Completed", "aborted": "Cut short", "inconclusive": "Inconclusive",
            "failed": "Failed"}[result.status]
    sentence = f"{what}" + (f": {result.reason}" if result.reason else "")
    if radius is None:
        return sentence + ". No blast radius was measured."
    spread = ", ".join(radius.radius) or "no surface"
    contained = {True: "contained as expected", False: "NOT contained", None: "containment unknown"}
    unknown = f"; cannot tell for {', '.join(radius.unknown)}" if radius.unknown else ""
    return (f"{sentence}. Beyond the target, {spread} degraded{unknown} — {contained[radius.contained]} "
            f"(score {radius.score:g}).")


def sli_series(tl: Timeline, sli: SLIDef, source: str, times: list[float]) -> list[float | None]:
    """The SLI over the window ending at each time."""
    return windowed(tl, sli, source, times, WINDOW_S)


def chart_times(t0: float, t1: float, step: float) -> list[float]:
    """Times from t0 to t1 at the sampling step, coarser where that would pass MAX_POINTS."""
    step = max(step, (t1 - t0) / MAX_POINTS)
    n = int((t1 - t0) / step) + 1
    return [t0 + i * step for i in range(n)]


def run_view(run_dir: Path) -> RunView:
    """The run report's content, from the run directory alone."""
    result = load_result(run_dir)
    try:
        plan: RunPlan | None = load_plan(run_dir)
    except Exception:  # noqa: BLE001 - an older run without a plan still gets a (smaller) report
        plan = None
    copy = run_dir / EXPERIMENT_COPY
    text = copy.read_text(errors="replace") if copy.exists() else None
    start = min((p[0] for p in result.phases.values()), default=result.started_at)
    end = max((p[1] for p in result.phases.values()), default=result.ended_at or start)
    charts: list[Chart] = []
    if plan is not None and (run_dir / "timeline.db").exists() and end > start:
        tl = Timeline(run_dir)
        times = chart_times(start, end, plan.sample_interval)
        bands = [Band(label=name, t0=t0 - start, t1=t1 - start) for name, (t0, t1) in result.phases.items()]
        markers = _markers(result, start)
        x = [round(t - start, 3) for t in times]
        for name, surface in plan.surfaces.items():
            # One chart per unit: a share (0 to 1) and a p95 in seconds on one axis would read as one scale.
            groups = unit_groups(surface.slis)
            for group in groups:
                series = [Series(label=sli_name, color=COLORS[j % len(COLORS)],
                                 values=sli_series(tl, sli, sli.source or surface.services[0], times))
                          for j, (sli_name, sli) in enumerate(group.slis)]
                title = name if len(groups) == 1 else f"{name} — {group.label}"
                charts.append(Chart(id=f"chart-{len(charts)}", title=title, x_label="seconds since the run started",
                                    y_label=group.label, x=x, series=series, bands=bands, markers=markers))
    radius_map = None
    if plan is not None:
        radius_map = layout(plan.services, plan.links, {n: s.services for n, s in plan.surfaces.items()},
                            result.blast_radius, plan.target_services, plan.expected_radius)
    return RunView(title=f"{result.experiment} — {result.status}", status=result.status, headline=headline(result),
                   result=result, plan=plan, experiment_text=text, radius_map=radius_map, charts=charts,
                   slis=_sli_rows(result), journal=_journal(run_dir, start), generated=generated_now())


def _markers(result: RunResult, start: float) -> list[Marker]:
    """Injections and rollbacks; those within half a second of each other share one label."""
    events = sorted([(f.injected_at - start, "injected", f.type) for f in result.faults if f.injected_at]
                    + [(f.removed_at - start, "rolled back", f.type) for f in result.faults if f.removed_at])
    markers: list[Marker] = []
    for t, verb, kind in events:
        last = markers[-1] if markers else None
        if last is not None and last.label.startswith(verb) and t - last.t < 0.5:
            last.label += f", {kind}"
        else:
            markers.append(Marker(label=f"{verb} {kind}", t=t))
    return markers


def _sli_rows(result: RunResult) -> list[SLIRow]:
    impacts = {s.surface: s for s in result.blast_radius.surfaces} if result.blast_radius else {}
    rows = []
    for surface, slis in result.slis.items():
        impact = impacts.get(surface)
        by_sli = {s.sli: s for s in impact.slis} if impact else {}
        for name, phases in slis.items():
            judged = by_sli.get(name)
            degraded = "unknown" if judged is None or judged.degraded is None else ("DEGRADED" if judged.degraded else "within")
            rows.append(SLIRow(surface=surface, sli=name, classification=impact.classification if impact else "-",
                               **{p: _fmt(phases[p].value) if p in phases else "-" for p in ("baseline", "fault", "recovery")},
                               degraded=degraded, judged=(judged.judged or "") if judged else ""))
    return rows


def _journal(run_dir: Path, start: float) -> list[JournalRow]:
    if not (run_dir / "journal.db").exists():
        return []
    from chaos.run.journal import FaultState, Journal

    journal = Journal(run_dir)
    try:
        history: dict[int, list[str]] = {}
        for change in journal.events(FaultState):
            assert isinstance(change, FaultState)
            history.setdefault(change.id, []).append(f"{change.state} at {_clock(change.at, start)}")
        return [JournalRow(fault=e.fault, target=e.target, state=e.state, detail=e.detail,
                           steps=[f"intent recorded at {_clock(e.recorded_at, start)}", *history.get(e.id, [])])
                for e in journal.entries()]
    finally:
        journal.close()


def generated_now() -> str:
    """Now, as a report's "generated" line shows it."""
    return dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")
