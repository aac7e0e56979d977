"""`--dry-run`: what a run would start, inject and measure, touching nothing."""

from __future__ import annotations

from chaos.measure.blast import classify, target_services
from chaos.spec.experiment import LoadedExperiment


def describe_plan(exp: LoadedExperiment) -> str:
    """A readable plan of the run."""
    spec, stack = exp.spec, exp.stack
    p = spec.phases
    lines = [f"experiment {spec.name}: {spec.description}".rstrip(": "),
             f"stack {stack.name} ({stack.path}), backend {spec.backend}, deadline {spec.deadline:g}s",
             "  start: " + " -> ".join(stack.start_order()),
             "  links: " + ", ".join(stack.link_name(s, link) for s, link in stack.links())]
    if stack.variables:
        lines.append("  variables: " + ", ".join(f"{k}={v}" for k, v in stack.variables.items()))
    if spec.load:
        lines.append(f"load: {spec.load.profile}, {spec.load.users} users at {spec.load.spawn_rate:g}/s "
                     f"against {spec.load.target}" + (f", {spec.load.workers} workers" if spec.load.workers else ""))
    t = 0.0
    lines.append("phases:")
    for name, secs in (("warmup", p.warmup), ("baseline", p.baseline), ("fault", p.fault), ("recovery", p.recovery)):
        lines.append(f"  {t:6.0f}s  {name} for {secs:g}s")
        t += secs
    lines.append("faults (offsets from the fault phase's start):")
    for fault, targets in zip(spec.faults, exp.targets):
        until = f"{fault.start + fault.duration:g}s" if fault.duration is not None else "phase end"
        lines.append(f"  {fault.start:g}s..{until}  {fault.type} on {', '.join(targets)}")
    lines.append("steady state: " + (", ".join(f"{c.sli} in [{c.min}, {c.max}]" for c in spec.steady_state) or "none"))
    lines.append("stop conditions: " + (", ".join(f"{c.sli} {'<' if c.below is not None else '>'} "
                                                  f"{c.below if c.below is not None else c.above} for {c.for_:g}s"
                                                  for c in spec.stop_conditions) or "none"))
    faulted = target_services(exp)
    lines.append("surfaces measured:")
    for name, surface in exp.surfaces.items():
        lines.append(f"  {name} [{classify(exp, surface.services, faulted)}]: " + ", ".join(surface.slis))
    lines.append(f"expected radius: {', '.join(spec.expected_radius) or 'none'}")
    lines.append("dry run: nothing was started or injected")
    return "\n".join(lines)
