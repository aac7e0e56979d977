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

from pydantic import BaseModel

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
    undo: dict
    state: str
    detail: str | None = None
    recorded_at: float = 0.0


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

    def intend(self, fault: str, target: str, undo: dict) -> int:
        """Record a fault about to be injected, with everything needed to undo it; its id."""
        now = time.time()
        cur = self._db.execute(
            "INSERT INTO faults (fault, target, undo, state, recorded_at, updated_at) VALUES (?, ?, ?, 'intent', ?, ?)",
            (fault, target, json.dumps(undo), now, now))
        row_id = cur.lastrowid
        assert row_id is not None, "an INSERT that succeeded has a row id"
        return row_id

    def mark(self, entry_id: int, state: str, detail: str | None = None) -> None:
        """Move a fault to `injected`, `rolled_back` or `rollback_failed`."""
        now = time.time()
        self._db.execute("UPDATE faults SET state = ?, detail = ?, updated_at = ? WHERE id = ?",
                         (state, detail, now, entry_id))
        # Every transition stays on record, with its time: a report shows intent -> injected -> rolled back.
        self._db.execute("INSERT INTO events VALUES (?, ?, ?)",
                         (now, "fault_state", json.dumps({"id": entry_id, "state": state, "detail": detail})))

    def event(self, kind: str, **detail: object) -> None:
        """Append a lifecycle event (phase change, abort, reconcile)."""
        self._db.execute("INSERT INTO events VALUES (?, ?, ?)", (time.time(), kind, json.dumps(detail)))

    def entries(self) -> list[Entry]:
        """Every fault row, oldest first."""
        rows = self._db.execute("SELECT id, fault, target, undo, state, detail, recorded_at FROM faults "
                                "ORDER BY id").fetchall()
        return [Entry(id=r[0], fault=r[1], target=r[2], undo=json.loads(r[3]), state=r[4], detail=r[5],
                      recorded_at=r[6]) for r in rows]

    def outstanding(self) -> list[Entry]:
        """Faults that may still be in place: recorded, and not known rolled back."""
        return [e for e in self.entries() if e.state != "rolled_back"]

    def events(self) -> list[tuple[float, str, dict]]:
        """Every lifecycle event, oldest first."""
        return [(r[0], r[1], json.loads(r[2])) for r in self._db.execute("SELECT at, kind, detail FROM events")]
