"""summary.md of a matrix: the calls that never give up first, then one row per cell."""

from __future__ import annotations

from pathlib import Path

from chaos.matrix.compare import Comparison, load_comparison
from chaos.matrix.model import Entry, Matrix

SUMMARY_FILE = "summary.md"


def entry_text(e: Entry) -> str:
    """One table cell: the status, how much worse, how fast it came back."""
    mark = " (target)" if e.classification == "target" else ""
    if e.status in ("OK", "UNKNOWN"):
        return f"{e.status.lower()}{mark}"
    back = (f", back in {e.recover_s:.0f} s" if e.recover_s is not None
            else ", not back within the recovery window" if e.recovered is False else "")
    return f"**{e.status}** {e.change}{back}{mark}"


def comparison_lines(c: Comparison) -> list[str]:
    """The section of a candidate's summary that judges it against the baseline's matrix."""
    base = ", ".join(f"{k}={v}" for k, v in c.baseline_vars.items()) or "the stack's defaults"
    cand = ", ".join(f"{k}={v}" for k, v in c.candidate_vars.items())
    lines = ["## Against the baseline", "", f"**{c.verdict}**: the candidate ({cand}) against the baseline ({base}), "
             f"whose matrix is `{c.baseline_dir}`.", ""]
    lines += [f"- {r}" for r in c.reasons()] or ["- no entry beyond a cell's target got worse, and no new call "
                                                 "that never gives up"]
    return lines + [""]


def summary(m: Matrix, comparison: Comparison | None = None) -> str:
    """The matrix as Markdown (with its comparison first when it was a candidate's)."""
    s = m.settings
    lines = [f"# Resilience matrix of {m.stack_name}", "",
             f"{len(m.cells)} cell(s) of {s.window_s:g} s faults under "
             + (f"{s.users} user(s) of {Path(s.load_profile).name} against {s.target}" if s.load_profile else "no load")
             + f", each after its own {s.baseline_s:g} s baseline, on the {s.backend} backend."]
    if m.shards:
        lines += ["", f"Sharded over {len(m.shards)} Docker engines, each share on a stack of its own at the same time:", ""]
        lines += [f"- {x.engine or 'local'}: {', '.join(x.cells)} ({x.status}"
                  + (f", {x.wall_s:.0f} s" if x.wall_s is not None else "") + ")" for x in m.shards]
    if m.stopped:
        lines += ["", f"**Stopped early:** {m.stopped}"]
    if comparison is not None:
        lines += [""] + comparison_lines(comparison)
    unbounded = m.unbounded()
    lines += ["", "## Calls that never give up", ""]
    lines += [f"- **{b.edge}**: {b.finding}" for b in unbounded] or [
        "None found: every hung dependency's caller gave up, or its hang was not run or not seen (below)."]
    bounded = [c.calls for c in m.cells if c.calls is not None and c.calls.bounded is not False]
    lines += [f"- {b.edge}: {b.finding}" for b in bounded]
    lines += ["", "## Cells", "", "| cell | fault landed | " + " | ".join(m.surfaces) + " |",
              "|---|---|" + "---|" * len(m.surfaces)]
    for c in m.cells:
        by = {e.surface: e for e in c.entries}
        landed = {True: "yes", False: "no", None: "not shown"}[c.landed] if c.run_status else "not run"
        row = [entry_text(by[n]) if n in by else "-" for n in m.surfaces]
        lines.append(f"| {c.cell.id} | {landed} | " + " | ".join(row) + " |")
    unknown = [(c.cell.id, e) for c in m.cells for e in c.entries if e.status == "UNKNOWN"]
    if unknown:
        lines += ["", "## Why an entry is unknown", ""]
        lines += [f"- {cid}, {e.surface}: {e.why}" for cid, e in unknown[:40]]
        if len(unknown) > 40:
            lines.append(f"- and {len(unknown) - 40} more (matrix.json has every one)")
    if m.skipped:
        lines += ["", "## Cells the stack implies but that were not run", ""]
        lines += [f"- {k.id}: {k.why}" for k in m.skipped]
    lines += ["", "## How to read it", "",
              f"A DEGRADED or UNAVAILABLE entry is a claim made at error level {m.family_alpha:.2g} per cell "
              f"(0.05 over the {len(m.cells)} cells, split again over each cell's SLIs): a false one anywhere in "
              "the matrix is below 5 %. An OK entry is the claim that the surface's worsening is within its "
              "tolerance (the one-sided 95 % bound); anything between is unknown, never OK. A cell whose fault was "
              "not shown to land is unknown throughout. A call that never gives up is read from the connections "
              f"held through the hang (still open at the heal after {s.unbounded_after_s:g} s), not from SLIs."]
    return "\n".join(lines) + "\n"


def write_summary(m: Matrix, folder: Path) -> Path:
    """Write summary.md into the matrix directory."""
    path = folder / SUMMARY_FILE
    path.write_text(summary(m, load_comparison(folder)))
    return path
