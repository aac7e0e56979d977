"""Blast radius: which surfaces degraded against their own baseline, how much, how long, how
fast they recovered — classified as target, direct dependent (one link away) or beyond.

"Degraded" is decided by the gate's statistics (`chaos.measure.stats.compare`): the fault phase's
observations against the baseline phase's. Each SLI is one of three:

- degraded: the whole interval of the worsening is beyond the SLI's tolerance, at the run's error
  level split over its SLIs (Bonferroni): a false alarm on any of them stays below ALPHA;
- within: the one-sided upper bound of the worsening, at ALPHA itself, is within the tolerance.
  "Every surface is within" is an intersection-union claim: it is false only if one of them is
  not, so each is tested at ALPHA with no split and the whole claim still errs at most ALPHA;
- unknown: neither (the interval straddles the tolerance), or too few samples. A surface that
  might have degraded is never counted as one that did not: containment is then unknown.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chaos.measure.observations import observe
from chaos.measure.result import BlastRadius, Class, RunResult, SLIImpact, SurfaceImpact
from chaos.measure.sli import SLIValue, evaluate
from chaos.measure.stats import compare

if TYPE_CHECKING:
    from chaos.measure.metrics.timeline import Timeline
    from chaos.spec.experiment import LoadedExperiment

#: Sliding window (seconds) and step used to time degradation and recovery.
WINDOW_S = 5.0
STEP_S = 1.0
#: Consecutive healthy windows after the fault ends that count as recovered.
RECOVERED_AFTER = 3
#: Error level over all of a run's SLIs (Bonferroni: each SLI is judged at ALPHA / their number).
ALPHA = 0.05
#: Fewer observations than this in either phase (events, or per-second values): unknown.
MIN_SAMPLES = 5


def is_degraded(sli, baseline: float | None, value: float | None) -> tuple[bool | None, float | None]:
    """Whether `value` is worse than `baseline` beyond the SLI's tolerance, and by how much (relative)."""
    if baseline is None or value is None:
        return None, None
    allowance = max(sli.tolerance, sli.tolerance_pct / 100.0 * abs(baseline))
    worse = baseline - value if sli.better == "higher" else value - baseline
    magnitude = worse / abs(baseline) if baseline else (float("inf") if worse > 0 else 0.0)
    return worse > allowance, max(magnitude, 0.0)


def target_services(exp: LoadedExperiment) -> set[str]:
    """The services the faults hit: a link's dependency, or the named service."""
    links = {exp.stack.link_name(s, link): link.to for s, link in exp.stack.links()}
    found: set[str] = set()
    for fault, targets in zip(exp.spec.faults, exp.targets):
        found.update(fault.component if fault.component else (links.get(t, t) for t in targets))
    return found


def classify(exp: LoadedExperiment, services: list[str], targets: set[str]) -> Class:
    """target if it is served from a faulted service (its first); direct if it rests on one
    (another of its services is faulted) or one of its services links to one; else beyond.

    A surface that merely *uses* the faulted pool is not the target: a full shared pool that
    breaks runs is exactly the spread a gate must see.
    """
    if services and services[0] in targets:
        return "target"
    if targets & set(services):
        return "direct"
    for service, link in exp.stack.links():
        if service in services and link.to in targets:
            return "direct"
    return "beyond"


def judge(tl: Timeline, sli, source: str, baseline: tuple[float, float], fault: tuple[float, float],
          window_s: float, alpha: float) -> tuple[bool | None, str]:
    """Degraded (True), within its tolerance (False) or unknown (None), and how it was decided;
    `alpha` is this SLI's share of the run's error level (see the module's docstring)."""
    return judge_between(sli, source, (tl, baseline), (tl, fault), window_s, alpha)


def judge_between(sli, source: str, before: tuple[Timeline, tuple[float, float]],
                  after: tuple[Timeline, tuple[float, float]], window_s: float,
                  alpha: float) -> tuple[bool | None, str]:
    """As `judge`, for two spans that may come from two runs' timelines: `after` worse than `before`?"""
    # A quantile SLI is judged here on its windows' quantiles, as before the gate's criteria took the
    # phase's requests: see "Quantiles" in docs/guides/gate.md for why the radius waits.
    b, f = (observe(tl, sli, source, *span, window_s, buckets=False) for tl, span in (before, after))

    def at(level: float):
        return compare(b, f, better=sli.better, relative=sli.tolerance_pct / 100.0, floor=sli.tolerance,
                       alpha=level, min_samples=MIN_SAMPLES, method="independent")  # as the gate (GATE_METHOD)

    strict = at(alpha)
    if strict.verdict == "FAIL":
        return True, f"degraded: {strict.method}: {strict.reason}"
    if strict.effect is None:  # too few samples, or not finite: nothing to bound
        return None, f"unknown: {strict.method}: {strict.reason}"
    # Two-sided at 2 x ALPHA: its upper end is the one-sided bound at ALPHA.
    loose = at(min(2 * ALPHA, 0.5))
    if loose.verdict == "PASS":
        return False, f"within: {loose.method}: {loose.reason}"
    assert loose.high is not None and loose.allowed is not None  # a comparison with an effect has both
    return None, (f"unknown: worse by {loose.effect:.4g}, perhaps by as much as {loose.high:.4g} "
                  f"({100 * (1 - ALPHA):.0f}% one-sided bound) against the tolerance {loose.allowed:.4g}; "
                  f"{loose.method}")


def blast_radius(exp: LoadedExperiment, result: RunResult, tl: Timeline, family_alpha: float = ALPHA) -> BlastRadius:
    """The run's blast radius from its per-phase SLIs and the timeline; a false "degraded" on any
    SLI at most `family_alpha` (a matrix passes its share of ALPHA over all its cells)."""
    targets = target_services(exp)
    fault_t0, fault_t1 = result.phases["fault"]
    end = result.phases.get("recovery", (fault_t1, fault_t1))[1]
    alpha = family_alpha / max(1, sum(len(s.slis) for s in exp.surfaces.values()))
    impacts = []
    for name, surface in exp.surfaces.items():
        slis = []
        for sli_name, sli in surface.slis.items():
            phases: dict[str, SLIValue] = result.slis.get(name, {}).get(sli_name, {})
            b, f, r = (phases.get(p, SLIValue(value=None)).value for p in ("baseline", "fault", "recovery"))
            magnitude = is_degraded(sli, b, f)[1]
            degraded, judged = (None, "no baseline phase") if "baseline" not in result.phases else judge(
                tl, sli, sli.source or surface.services[0], result.phases["baseline"], result.phases["fault"],
                exp.spec.sample_interval, alpha)
            slis.append(SLIImpact(sli=sli_name, baseline=b, fault=f, recovery=r, degraded=degraded,
                                  magnitude=magnitude, judged=judged))
        flags = [s.degraded for s in slis]
        degraded = True if any(flags) else (None if None in flags else False)
        # A degraded SLI has a magnitude: its comparison had samples in both phases, so both phase values exist.
        magnitudes = [s.magnitude for s in slis if s.degraded and s.magnitude is not None]
        impact = SurfaceImpact(surface=name, classification=classify(exp, surface.services, targets),
                               degraded=degraded, slis=slis, magnitude=max(magnitudes, default=None))
        if degraded:
            impact.degraded_s, impact.time_to_recover_s = _timing(tl, surface, slis, fault_t0, fault_t1, end)
        impacts.append(impact)
    others = [i for i in impacts if i.classification != "target"]
    radius = [i.surface for i in others if i.degraded]
    unknown = [i.surface for i in others if i.degraded is None]
    weights = {n: s.weight for n, s in exp.surfaces.items()}
    total = sum(weights[i.surface] for i in others) or 1.0
    score = 100.0 * sum(weights[n] for n in radius) / total
    expected = list(exp.spec.expected_radius)
    spread = set(radius) - set(expected)
    contained = False if spread else (None if set(unknown) - set(expected) else True)
    return BlastRadius(target_services=sorted(targets), surfaces=impacts, radius=radius, unknown=unknown,
                       score=round(score, 1), expected=expected, contained=contained)


def _timing(tl, surface, slis: list[SLIImpact], fault_t0: float, fault_t1: float,
            end: float) -> tuple[float, float | None]:
    """Seconds of degraded sliding windows, and time from fault end until RECOVERED_AFTER healthy windows."""
    degraded_windows = 0
    healthy_run = 0
    recovered_at = None
    t = fault_t0 + WINDOW_S
    while t <= end + 1e-6:
        bad = False
        for impact in slis:
            if impact.degraded:
                sli = surface.slis[impact.sli]
                v = evaluate(tl, sli, sli.source or surface.services[0], t - WINDOW_S, t).value
                if is_degraded(sli, impact.baseline, v)[0]:
                    bad = True
        if bad:
            degraded_windows += 1
            healthy_run = 0
            recovered_at = None
        elif t > fault_t1:
            healthy_run += 1
            if healthy_run == 1:
                recovered_at = t
        t += STEP_S
    recover = None
    if recovered_at is not None and healthy_run >= RECOVERED_AFTER:
        recover = max(0.0, recovered_at - WINDOW_S - fault_t1)
    return degraded_windows * STEP_S, recover
