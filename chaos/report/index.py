"""The index of a reports folder: every run and gate, newest first, with status and verdict."""

from __future__ import annotations

import json
import os
from pathlib import Path

from pydantic import BaseModel


class Entry(BaseModel):
    kind: str  # run | gate | matrix
    name: str
    when: float
    outcome: str
    reason: str
    link: str | None


def entries(out_dir: Path) -> list[Entry]:
    """Runs (out/runs/*/result.json), gates (out/gates/*/verdict.json) and matrices
    (out/matrices/*/matrix.json), newest first."""
    found = []
    for result in out_dir.glob("runs/*/result.json"):
        try:
            r = json.loads(result.read_text())
        except (OSError, ValueError):
            continue
        report = result.parent / "report.html"
        found.append(Entry(kind="run", name=r.get("experiment", result.parent.name), when=r.get("started_at", 0),
                           outcome=r.get("status", "?"), reason=r.get("reason") or "",
                           link=os.path.relpath(report, out_dir) if report.exists() else None))
    for verdict in out_dir.glob("gates/*/verdict.json"):
        try:
            v = json.loads(verdict.read_text())
        except (OSError, ValueError):
            continue
        report = verdict.parent / "report.html"
        cand = ", ".join(f"{k}={val}" for k, val in v.get("candidate", {}).items())
        found.append(Entry(kind="gate", name=f"{v.get('policy', '?')} ({cand or 'defaults'})",
                           when=v.get("judged_at", 0), outcome=v.get("verdict", "?"),
                           reason=(v.get("reasons") or [""])[0],
                           link=os.path.relpath(report, out_dir) if report.exists() else None))
    for matrix in out_dir.glob("matrices/*/matrix.json"):
        try:
            m = json.loads(matrix.read_text())
        except (OSError, ValueError):
            continue
        report = matrix.parent / "report.html"
        unbounded = [c["calls"]["edge"] for c in m.get("cells", []) if (c.get("calls") or {}).get("bounded") is False]
        found.append(Entry(kind="matrix", name=f"{m.get('stack_name', '?')} ({len(m.get('cells', []))} cells)",
                           when=m.get("started_at", 0), outcome="unbounded" if unbounded else "completed",
                           reason=f"never give up: {', '.join(unbounded)}" if unbounded else "",
                           link=os.path.relpath(report, out_dir) if report.exists() else None))
    return sorted(found, key=lambda e: e.when, reverse=True)
