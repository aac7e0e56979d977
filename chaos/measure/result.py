"""A run's result as every reader sees it (the gate, the summary, reports): `result.json`, typed."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from chaos.errors import EXIT_FAIL, EXIT_INCONCLUSIVE, EXIT_INVALID, EXIT_PASS
from chaos.faults.landing import Landing
from chaos.measure.sli import SLIValue
from chaos.spec.surfaces import SLIRef, Surface
from chaos.util.stored import read_model

RESULT_FILE = "result.json"
PLAN_FILE = "plan.json"
EXPERIMENT_COPY = "experiment.yaml"
Status = Literal["completed", "aborted", "inconclusive", "failed"]
Class = Literal["target", "direct", "beyond"]


class FaultRecord(BaseModel):
    """One declared fault: what it hit, and when it was injected and removed."""

    type: str
    targets: list[str]
    injected_at: float | None = None
    removed_at: float | None = None
    journal_ids: list[int] = Field(default_factory=list)
    landing: Landing | None = Field(None, description="what showed the fault took effect (None: never injected)")


class CheckResult(BaseModel):
    """One steady-state check over the baseline."""

    sli: SLIRef
    value: float | None
    min: float | None = None
    max: float | None = None
    passed: bool
    note: str | None = None


class SLIImpact(BaseModel):
    """One SLI of a surface: its phases, and whether the fault phase was worse than the baseline."""

    sli: str
    baseline: float | None
    fault: float | None
    recovery: float | None
    degraded: bool | None = Field(description="None: not enough data to tell")
    magnitude: float | None = Field(None, description="relative change in the bad direction")
    judged: str | None = Field(None, description="how: the test, its interval and the rule that decided")


class SurfaceImpact(BaseModel):
    """One surface's part in the blast radius."""

    surface: str
    classification: Class
    degraded: bool | None
    magnitude: float | None = None
    degraded_s: float | None = Field(None, description="seconds of degraded windows from fault start on")
    time_to_recover_s: float | None = Field(None, description="after the fault ended; None if it did not")
    slis: list[SLIImpact] = Field(default_factory=list)

    def change(self) -> str:
        """How much worse, in words: the largest relative change, or from-to where the baseline
        was 0 (no relative change exists) — never a bare DEGRADED."""
        worst = [s for s in self.slis if s.degraded and s.baseline is not None and s.fault is not None]
        finite = [s for s in worst if s.magnitude is not None and math.isfinite(s.magnitude) and s.magnitude > 0]
        if finite:
            top = max(finite, key=lambda s: s.magnitude or 0.0)
            return f"{100 * (top.magnitude or 0.0):.0f}% worse ({top.sli})"
        if worst:
            top = worst[0]
            return f"{top.sli} {top.baseline:.3g} -> {top.fault:.3g}"
        return ""


class BlastRadius(BaseModel):
    """Which non-target surfaces degraded, their weighted score, and containment."""

    target_services: list[str]
    surfaces: list[SurfaceImpact]
    radius: list[str] = Field(description="non-target surfaces that degraded")
    unknown: list[str] = Field(description="non-target surfaces without enough data to tell")
    score: float = Field(description="0-100: weight of degraded non-target surfaces over all of them")
    expected: list[str]
    contained: bool | None = Field(description="radius within expected; None when unknown surfaces could hide "
                                               "spread, or a fault was not shown to land")
    not_landed: list[str] = Field(default_factory=list, description="faults injected but not shown to take effect")


class StackReuse(BaseModel):
    """A run on a stack started before it (a gate's): what was restarted and the verified reset."""

    stack_dir: str
    reused: bool = Field(description="False: this run's stack was started fresh for it")
    restarted: list[str] = Field(default_factory=list, description="services restarted for changed variables")
    checks: dict[str, str] = Field(default_factory=dict, description="reset check -> 'ok' or what was found")


class Rollback(BaseModel):
    """The end of every run: journal entries, what could not be undone, what is still in place."""

    entries: int = 0
    failures: list[str] = Field(default_factory=list)
    outstanding: list[str] = Field(default_factory=list)
    leftovers: list[str] = Field(default_factory=list)


class RequestCounts(BaseModel):
    requests: int = 0
    failures: int = 0


class LoadTotals(RequestCounts):
    """locust's final totals (from its JSON file), overall and per request name."""

    by_name: dict[str, RequestCounts] = Field(default_factory=dict)


class RunResult(BaseModel):
    """What happened, written to result.json."""

    experiment: str
    file: str
    run_id: str
    run_dir: str
    status: Status = "failed"
    reason: str | None = None
    started_at: float = Field(default_factory=time.time)
    ended_at: float | None = None
    variables: dict[str, str] = Field(default_factory=dict)
    phases: dict[str, tuple[float, float]] = Field(default_factory=dict)
    faults: list[FaultRecord] = Field(default_factory=list)
    steady_state: list[CheckResult] = Field(default_factory=list)
    slis: dict[str, dict[str, dict[str, SLIValue]]] = Field(default_factory=dict)
    missing: list[str] = Field(default_factory=list)
    blast_radius: BlastRadius | None = None
    load: LoadTotals | None = None
    reconciled_before: list[str] = Field(default_factory=list)
    rollback: Rollback = Field(default_factory=Rollback)
    stack: StackReuse | None = Field(None, description="set when the run used a stack started before it")

    @property
    def exit_code(self) -> int:
        """`chaosgate run`'s exit code for this result: contained 0, aborted 1, inconclusive 2, failed 3."""
        return {"completed": EXIT_PASS, "aborted": EXIT_FAIL, "inconclusive": EXIT_INCONCLUSIVE,
                "failed": EXIT_INVALID}[self.status]

    def save(self) -> None:
        """Write result.json into the run directory."""
        (Path(self.run_dir) / RESULT_FILE).write_text(self.model_dump_json(indent=2))


class RunPlan(BaseModel):
    """What a run set out to do, written at its start: with result.json and the timeline, all a
    report needs — the experiment file may have moved or changed since."""

    experiment: str
    file: str
    sha256: str = Field(description="of the experiment file as it was run (copied beside as experiment.yaml)")
    backend: str
    chaosgate_version: str
    sample_interval: float
    surfaces: dict[str, Surface]
    services: list[str]
    links: list[tuple[str, str]] = Field(description="(service, dependency) edges")
    target_services: list[str]
    expected_radius: list[str]

    def save(self, run_dir: Path | str) -> None:
        (Path(run_dir) / PLAN_FILE).write_text(self.model_dump_json(indent=2))


def load_plan(run_dir: Path | str) -> RunPlan:
    """A run directory's plan; InputError when it has none."""
    return read_model(Path(run_dir) / PLAN_FILE, RunPlan, "no plan here (a run made before reports existed?)")


def load_result(run_dir: Path | str) -> RunResult:
    """A run directory's result; InputError when it has none or it cannot be read."""
    return read_model(Path(run_dir) / RESULT_FILE, RunResult, "no result here (the run never finished writing it)")
