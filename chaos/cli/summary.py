"""The terminal table a run ends with: per surface and SLI, the phases, degraded, class."""

from __future__ import annotations

from chaos.measure.result import RunResult


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.3g}"


def print_summary(result: RunResult) -> None:
    """Print the SLI table and the radius line."""
    from rich.console import Console
    from rich.table import Table

    console = Console(width=120)
    if not result.phases:
        # Nothing was measured (the stack never came up): the error, not a table of dashes.
        console.print(f"{result.experiment}: {result.status} before its stack was up — {result.reason}")
        return
    radius = result.blast_radius
    by_surface = {s.surface: s for s in radius.surfaces} if radius else {}
    table = Table("surface", "SLI", "baseline", "fault", "recovery", "degraded", "class",
                  title=f"{result.experiment}: {result.status}" + (f" — {result.reason}" if result.reason else ""))
    for surface, slis in result.slis.items():
        impact = by_surface.get(surface)
        degraded = {s.sli: s.degraded for s in impact.slis} if impact else {}
        for name, phases in slis.items():
            d = degraded.get(name)
            table.add_row(surface, name, *(_fmt(phases[p].value) if p in phases else "-"
                                           for p in ("baseline", "fault", "recovery")),
                          "?" if d is None else ("YES" if d else "within"), impact.classification if impact else "-")
    console.print(table)
    if radius:
        contained = {True: "contained", False: "NOT contained", None: "unknown"}[radius.contained]
        classes = {s.surface: s.classification for s in radius.surfaces}
        changes = {s.surface: s.change() for s in radius.surfaces}
        spread = ", ".join(f"{name} ({classes.get(name, '?')}{'; ' + changes[name] if changes.get(name) else ''})"
                           for name in radius.radius) or "none"
        console.print(f"blast radius (degraded surfaces other than the target's): {spread}; faulted "
                      f"{', '.join(radius.target_services)}; score {radius.score:g}; "
                      f"expected {', '.join(radius.expected) or 'none'}: {contained}")
        if radius.unknown:  # "?" above: neither shown degraded nor shown within its tolerance
            console.print(f"cannot tell for: {', '.join(radius.unknown)} (too few samples, or the interval "
                          "straddles the tolerance; see `judged` in result.json)")
    for line in result.missing:
        console.print(f"missing data: {line}")
