"""A cell's entries (one per surface) and, for a hang, whether the caller gives up.

Entries come from the run's blast radius judged again with the matrix's error level: a cell's
DEGRADED claims share ALPHA / cells, so over the whole matrix a false DEGRADED anywhere stays below
ALPHA (Bonferroni over cells, and over each cell's SLIs inside the radius). OK is each entry's
own claim at ALPHA ("within its tolerance": the one-sided bound of its worsening is), as in a
run's radius; anything between is UNKNOWN, never OK. A cell whose fault was not shown to land
says nothing about any surface: every entry is UNKNOWN.

Whether a caller gives up is read from the connections themselves (the hang's landing evidence,
`chaos.faults.link_landing`), never inferred from SLIs: a call still open at the heal after
`unbounded_after_s` never gave up; a call the caller closed while the hang was in place did.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chaos.matrix.cells import Cell
from chaos.matrix.model import CallBound, Entry, Settings, Status
from chaos.measure.blast import blast_radius, classify, target_services
from chaos.measure.result import RunResult, SurfaceImpact
from chaos.spec.surfaces import RatioSLI

if TYPE_CHECKING:
    from chaos.faults.landing import Landing
    from chaos.measure.metrics.timeline import Timeline
    from chaos.spec.experiment import LoadedExperiment

#: A degraded surface whose success-like ratio fell to this or below (a failure-like one rose to
#: 1 minus it or above) is UNAVAILABLE, not DEGRADED.
UNAVAILABLE_AT = 0.1


def entries(exp: LoadedExperiment, result: RunResult, tl: Timeline | None, family_alpha: float) -> list[Entry]:
    """One entry per surface of the cell's run."""
    landing = result.faults[0].landing if result.faults else None
    why = _cannot_tell(result, landing, tl)
    if why is not None or tl is None:  # tl is None only with a reason (_cannot_tell); the check narrows its type
        targets = target_services(exp)
        return [Entry(surface=name, status="UNKNOWN", classification=classify(exp, surface.services, targets),
                      why=why or "") for name, surface in exp.surfaces.items()]
    radius = blast_radius(exp, result, tl, family_alpha)
    return [_entry(exp, impact) for impact in radius.surfaces]


def _cannot_tell(result: RunResult, landing: Landing | None, tl: Timeline | None) -> str | None:
    if result.status == "failed" or "fault" not in result.phases or "baseline" not in result.phases or tl is None:
        return f"the cell's run did not measure a fault phase: {result.reason or result.status}"
    if landing is None:
        return "the fault was never injected"
    if not landing.landed:
        return f"the fault was not shown to land: {landing.summary()}"
    return None


def _entry(exp: LoadedExperiment, impact: SurfaceImpact) -> Entry:
    surface = exp.surfaces[impact.surface]
    how = "; ".join(f"{s.sli}: {s.judged}" for s in impact.slis if s.judged)
    status: Status
    if impact.degraded is None:
        status = "UNKNOWN"
    elif not impact.degraded:
        status = "OK"
    else:
        down = [s for s in impact.slis if s.degraded and s.fault is not None
                and isinstance(surface.slis[s.sli], RatioSLI)
                and (s.fault <= UNAVAILABLE_AT if surface.slis[s.sli].better == "higher" else s.fault >= 1 - UNAVAILABLE_AT)]
        status = "UNAVAILABLE" if down else "DEGRADED"
    recovered = None if not impact.degraded else impact.time_to_recover_s is not None
    return Entry(surface=impact.surface, status=status, classification=impact.classification,
                 change=impact.change() if impact.degraded else "", magnitude=impact.magnitude,
                 recover_s=impact.time_to_recover_s, recovered=recovered, why=how)


def call_bound(cell: Cell, landing: Landing | None, found: list[Entry], settings: Settings) -> CallBound | None:
    """A hang cell's finding about its caller; None for other cells."""
    if cell.kind != "hang" or cell.caller is None:
        return None
    spread = [e.surface for e in found if e.classification != "target" and e.status in ("DEGRADED", "UNAVAILABLE")]
    bound = CallBound(edge=cell.target, caller=cell.caller, dependency=cell.dependency, bounded=None,
                      finding="", spread=spread)
    calls = next((u.calls for u in landing.units if u.calls is not None), None) if landing else None
    if calls is None:
        bound.finding = "not seen: " + (landing.summary() if landing else "the hang was never injected")
        return bound
    bound.held, bound.gave_up_after_s, bound.longest_s = calls.gave_up + calls.held_to_end, calls.gave_up_after_s, calls.longest_s
    spread_text = f"; spread to {', '.join(spread)}" if spread else "; no surface beyond the target degraded"
    if calls.held_to_end and (calls.longest_s or 0.0) >= settings.unbounded_after_s:
        bound.bounded = False
        bound.finding = (f"no timeout: {calls.held_to_end} call(s) still held when the {calls.window_s:.0f} s hang "
                         f"ended, the oldest for {calls.longest_s:.1f} s{spread_text}")
    elif calls.gave_up:
        bound.bounded = True
        bound.finding = (f"gives up after {calls.gave_up_after_s:.1f} s (median of {calls.gave_up} call(s), "
                         f"longest {calls.gave_up_max_s:.1f} s){spread_text}")
    else:
        bound.finding = (f"{calls.held_to_end} call(s) held, none for {settings.unbounded_after_s:.0f} s and none "
                         "given up: the caller's bound is not known")
    return bound
