"""The crash-safe ledger of faults: an undo is durable on disk *before* its fault is injected.

SQLite in WAL mode with synchronous=FULL, in the run directory. A row moves
intent → injected → rolled_back (or rollback_failed). Anything not rolled_back after a crash
is what `chaosgate rollback` and the next run reconcile.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, SerializeAsAny

from chaos.faults import Undo, parse_undo

JOURNAL_FILE = "journal.db"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS faults (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    fault TEXT NOT NULL,
    target TEXT NOT NULL,
    undo TEXT NOT NULL,
    state TEXT NOT NULL,
    detail TEXT,
    recorded_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    at REAL NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL
);
"""


class Entry(BaseModel):
    """One fault's row."""

    id: int
    fault: str
    target: str
    undo: SerializeAsAny[Undo]  # dumped with its kind's fields, not only the base's
    state: str
    detail: str | None = None
    recorded_at: float = 0.0


class Event(BaseModel):
    """A lifecycle event of the journal; each kind below adds its fields."""

    # Lenient on reading: an event of a kind this version lacks is kept as a bare Event.
    model_config = ConfigDict(extra="allow")
    at: float = 0.0
    kind: str


class RunStart(Event):
    """An experiment run began."""

    kind: Literal["run_start"] = "run_start"
    experiment: str


class PhaseStart(Event):
    """A phase (baseline, fault, recovery) began."""

    kind: Literal["phase"] = "phase"
    name: str


class RunEnd(Event):
    """An experiment run ended, with its status."""

    kind: Literal["run_end"] = "run_end"
    status: str
    reason: str | None = None


class FaultState(Event):
    """A fault's row moved to a new state (injected, rolled_back, rollback_failed)."""

    kind: Literal["fault_state"] = "fault_state"
    id: int
    state: str
    detail: str | None = None


class Reconciled(Event):
    """A later command rolled back what a run left behind."""

    kind: Literal["reconciled"] = "reconciled"
    actions: list[str]


class HandInject(Event):
    """A person injected a fault by hand (`chaosgate inject`): its spec, journal ids and targets."""

    kind: Literal["hand_inject"] = "hand_inject"
    spec: dict[str, Any]  # the fault's own typed spec, dumped: it is read back through the fault union
    ids: list[int]
    targets: list[str]


class HandHeal(Event):
    """A person healed faults by hand (`chaosgate heal`)."""

    kind: Literal["hand_heal"] = "hand_heal"
    ids: list[int]


_EVENTS: dict[str, type[Event]] = {
    cls.model_fields["kind"].default: cls
    for cls in (RunStart, PhaseStart, RunEnd, FaultState, Reconciled, HandInject, HandHeal)
}


class Journal:
    """Open (or create) the journal of one run directory."""

    def __init__(self, run_dir: Path | str):
        self.path = Path(run_dir) / JOURNAL_FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=10, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def intend(self, fault: str, target: str, undo: Undo) -> int:
        """Record a fault about to be injected, with everything needed to undo it; its id."""
        now = time.time()
        cur = self._db.execute(
            "INSERT INTO faults (fault, target, undo, state, recorded_at, updated_at) VALUES (?, ?, ?, 'intent', ?, ?)",
            (fault, target, undo.model_dump_json(), now, now))
        row_id = cur.lastrowid
        assert row_id is not None, "an INSERT that succeeded has a row id"
        return row_id

    def mark(self, entry_id: int, state: str, detail: str | None = None) -> None:
        """Move a fault to `injected`, `rolled_back` or `rollback_failed`."""
        now = time.time()
        self._db.execute("UPDATE faults SET state = ?, detail = ?, updated_at = ? WHERE id = ?",
                         (state, detail, now, entry_id))
        # Every transition stays on record, with its time: a report shows intent -> injected -> rolled back.
        self.event(FaultState(at=now, id=entry_id, state=state, detail=detail))

    def event(self, event: Event) -> None:
        """Append a lifecycle event (phase change, run end, reconcile, a hand inject); now if it has no time."""
        at = event.at or time.time()
        detail = event.model_dump_json(exclude={"at", "kind"})
        self._db.execute("INSERT INTO events VALUES (?, ?, ?)", (at, event.kind, detail))

    def entries(self) -> list[Entry]:
        """Every fault row, oldest first."""
        rows = self._db.execute("SELECT id, fault, target, undo, state, detail, recorded_at FROM faults "
                                "ORDER BY id").fetchall()
        return [Entry(id=r[0], fault=r[1], target=r[2], undo=parse_undo(json.loads(r[3])), state=r[4], detail=r[5],
                      recorded_at=r[6]) for r in rows]

    def outstanding(self) -> list[Entry]:
        """Faults that may still be in place: recorded, and not known rolled back."""
        return [e for e in self.entries() if e.state != "rolled_back"]

    def events(self, *kinds: type[Event]) -> list[Event]:
        """Every lifecycle event (or those of the given kinds), oldest first."""
        wanted = tuple(kinds) or (Event,)
        rows = self._db.execute("SELECT at, kind, detail FROM events ORDER BY rowid").fetchall()
        events = [_EVENTS.get(kind, Event).model_validate({**json.loads(detail), "at": at, "kind": kind})
                  for at, kind, detail in rows]
        return [e for e in events if isinstance(e, wanted)]
