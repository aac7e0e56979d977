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


def _stored(out_dir: Path, pattern: str):
    """(the JSON read, the link to the report beside it) for each file matching `pattern`; an
    unreadable file is left out (the index lists what it can, a half-written run among them)."""
    for path in out_dir.glob(pattern):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        report = path.parent / "report.html"
        yield path, data, os.path.relpath(report, out_dir) if report.exists() else None


def entries(out_dir: Path) -> list[Entry]:
    """Runs (out/runs/*/result.json), gates (out/gates/*/verdict.json) and matrices
    (out/matrices/*/matrix.json), newest first."""
    found = []
    for path, r, link in _stored(out_dir, "runs/*/result.json"):
        found.append(Entry(kind="run", name=r.get("experiment", path.parent.name), when=r.get("started_at", 0),
                           outcome=r.get("status", "?"), reason=r.get("reason") or "", link=link))
    for _, v, link in _stored(out_dir, "gates/*/verdict.json"):
        cand = ", ".join(f"{k}={val}" for k, val in v.get("candidate", {}).items())
        found.append(Entry(kind="gate", name=f"{v.get('policy', '?')} ({cand or 'defaults'})",
                           when=v.get("judged_at", 0), outcome=v.get("verdict", "?"),
                           reason=(v.get("reasons") or [""])[0], link=link))
    for _, m, link in _stored(out_dir, "matrices/*/matrix.json"):
        unbounded = [c["calls"]["edge"] for c in m.get("cells", []) if (c.get("calls") or {}).get("bounded") is False]
        found.append(Entry(kind="matrix", name=f"{m.get('stack_name', '?')} ({len(m.get('cells', []))} cells)",
                           when=m.get("started_at", 0), outcome="unbounded" if unbounded else "completed",
                           reason=f"never give up: {', '.join(unbounded)}" if unbounded else "", link=link))
    return sorted(found, key=lambda e: e.when, reverse=True)
