"""A finished run's measurement: every SLI per phase, what had no data, and the blast radius."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chaos.measure.blast import blast_radius
from chaos.measure.sli import evaluate

if TYPE_CHECKING:
    from chaos.measure.metrics.timeline import Timeline
    from chaos.measure.result import RunResult
    from chaos.spec.experiment import LoadedExperiment


def measure(exp: LoadedExperiment, result: RunResult, timeline: Timeline) -> None:
    """Every SLI per phase (warmup aside), what is missing, and the blast radius, into `result`."""
    for surface_name, surface in exp.surfaces.items():
        for sli_name, sli in surface.slis.items():
            per_phase = {}
            for phase, (t0, t1) in result.phases.items():
                if phase == "warmup":
                    continue
                v = evaluate(timeline, sli, sli.source or surface.services[0], t0, t1)
                per_phase[phase] = v
                if v.value is None:
                    result.missing.append(f"{surface_name}.{sli_name} ({phase}): {v.missing}")
            result.slis.setdefault(surface_name, {})[sli_name] = per_phase
    if "fault" in result.phases and result.status in ("completed", "aborted"):
        result.blast_radius = blast_radius(exp, result, timeline)
    _fail_closed_on_landing(result)


def _fail_closed_on_landing(result: RunResult) -> None:
    """A fault that was injected but not shown to take effect makes containment unknown: a run
    never says "contained" about a fault that may have changed nothing."""
    missed = [f"{f.type} on {', '.join(f.targets)}: {f.landing.summary()}"
              for f in result.faults if f.landing is not None and not f.landing.landed]
    if not missed:
        return
    if result.blast_radius is not None:
        result.blast_radius.not_landed = missed
        result.blast_radius.contained = None if result.blast_radius.contained is not False else False
    if result.status == "completed":
        result.status = "inconclusive"
        result.reason = "fault never landed: " + " | ".join(missed)
