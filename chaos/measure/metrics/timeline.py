"""The run's timeline: every metric sample, phase change and fault event on one clock, in SQLite."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from pydantic import BaseModel

TIMELINE_FILE = "timeline.db"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS samples (t REAL NOT NULL, source TEXT NOT NULL, name TEXT NOT NULL,
                                    labels TEXT NOT NULL, value REAL NOT NULL);
CREATE INDEX IF NOT EXISTS samples_by_name ON samples (source, name, t);
CREATE TABLE IF NOT EXISTS missing (t REAL NOT NULL, source TEXT NOT NULL, reason TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS marks (t REAL NOT NULL, kind TEXT NOT NULL, detail TEXT NOT NULL);
"""


class Sample(BaseModel):
    """One scraped value."""

    t: float
    source: str
    name: str
    labels: dict[str, str]
    value: float


class Timeline:
    """Append-only store shared by the sampler thread and the engine."""

    def __init__(self, run_dir: Path | str):
        self.path = Path(run_dir) / TIMELINE_FILE
        self._db = sqlite3.connect(self.path, timeout=10, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.RLock()  # re-entered by the reads inside frozen()
        self._first_reads: dict[str, float] = {}

    def add(self, samples: Iterable[Sample]) -> None:
        """Store a scrape's samples in one transaction."""
        rows = [(s.t, s.source, s.name, json.dumps(s.labels, sort_keys=True), s.value) for s in samples]
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany("INSERT INTO samples VALUES (?, ?, ?, ?, ?)", rows)
            self._db.execute("COMMIT")

    def missing(self, t: float, source: str, reason: str) -> None:
        """Record that a source could not be read at t (missing data, never zero)."""
        with self._lock:
            self._db.execute("INSERT INTO missing VALUES (?, ?, ?)", (t, source, reason))

    @contextmanager
    def frozen(self) -> Iterator[None]:
        """Reads in the block see one consistent timeline, whoever writes meanwhile.

        An SLI is several queries (a ratio's good, then its total): a scrape landing between them
        would count in one and not the other — a baseline of nothing but successes read as 91%.
        The lock holds off this object's writers; the read transaction (a WAL snapshot) those of
        other connections to the same file.
        """
        with self._lock:
            if self._db.in_transaction:  # already inside one
                yield
            else:
                self._db.execute("BEGIN")
                try:
                    yield
                finally:
                    self._db.execute("COMMIT")

    def mark(self, t: float, kind: str, **detail: object) -> None:
        """A phase or fault event on the same clock as the samples."""
        with self._lock:
            self._db.execute("INSERT INTO marks VALUES (?, ?, ?)", (t, kind, json.dumps(detail)))

    def series(self, source: str, name: str, t0: float, t1: float) -> list[tuple[float, dict[str, str], float]]:
        """(t, labels, value) of one metric from one source within [t0, t1], in time order."""
        with self._lock:
            rows = self._db.execute(
                "SELECT t, labels, value FROM samples WHERE source = ? AND name = ? AND t >= ? AND t <= ? ORDER BY t",
                (source, name, t0, t1)).fetchall()
        return [(t, json.loads(labels), v) for t, labels, v in rows]

    def first_read(self, source: str) -> float | None:
        """When `source` was first read successfully, or None if it never was (kept once known: it
        cannot change, and the query scans the source's rows)."""
        cache = self._first_reads
        if source not in cache:
            with self._lock:
                t = self._db.execute("SELECT MIN(t) FROM samples WHERE source = ?", (source,)).fetchone()[0]
            if t is None:
                return None
            cache[source] = t
        return cache[source]

    def scrape_times(self, source: str, t0: float, t1: float) -> list[float]:
        """Distinct times at which `source` was read successfully within [t0, t1]."""
        with self._lock:
            rows = self._db.execute("SELECT DISTINCT t FROM samples WHERE source = ? AND t >= ? AND t <= ? ORDER BY t",
                                    (source, t0, t1)).fetchall()
        return [r[0] for r in rows]

    def count(self) -> int:
        """Samples stored so far."""
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM samples").fetchone()[0]

    def missing_count(self, source: str, t0: float, t1: float) -> int:
        """How many reads of `source` failed within [t0, t1]."""
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM missing WHERE source = ? AND t >= ? AND t <= ?",
                                    (source, t0, t1)).fetchone()[0]

    def marks(self) -> list[tuple[float, str, dict]]:
        """All marks, in time order."""
        with self._lock:
            rows = self._db.execute("SELECT t, kind, detail FROM marks ORDER BY t").fetchall()
        return [(t, k, json.loads(d)) for t, k, d in rows]
