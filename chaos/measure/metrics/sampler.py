"""Reads every source at a fixed interval into the timeline, each source on its own.

A slow or hung source (a paused service's /metrics) must not delay the others: each tick
starts a read of every source whose previous read has finished, and records the rest as
missing for that tick. Every read is bounded by the source's own timeout.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor

from chaos.measure.metrics.sources import READ_TIMEOUT_S, Source, SourceError
from chaos.measure.metrics.timeline import Timeline


class Sampler:
    """A daemon thread sampling `sources` every `interval_s` until stopped."""

    def __init__(self, sources: list[Source], timeline: Timeline, interval_s: float = 1.0):
        self.sources, self.timeline, self.interval_s = sources, timeline, interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="sampler", daemon=True)
        # Two workers per source: a hung read and the next one may overlap once.
        self._pool = ThreadPoolExecutor(max_workers=max(2 * len(sources), 1), thread_name_prefix="source")
        self._pending: dict[str, Future] = {}
        self._started: dict[Future, float] = {}  # reads not yet finished, by the time they read for
        # Re-entrant: a read that is already done runs its done-callback at once, inside sample_once.
        self._lock = threading.RLock()
        self.ticks = 0

    def start(self) -> Sampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the loop; sample_once still works afterwards."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(READ_TIMEOUT_S * 3)

    def close(self) -> None:
        """Stop, and release the reader threads."""
        self.stop()
        self._pool.shutdown(wait=False, cancel_futures=True)
        for src in self.sources:
            src.close()

    def sample_once(self, wait: bool = True) -> None:
        """Start a read of every idle source now; with `wait`, until those reads end (bounded)."""
        started = []
        with self._lock:  # settled_until must see this tick's reads as soon as its time exists
            t = time.time()
            for src in self.sources:
                previous = self._pending.get(src.name)
                if previous is not None and not previous.done():
                    self.timeline.missing(t, src.name, "previous read still running")
                    continue
                fut = self._pool.submit(self._read, src, t)
                self._started[fut] = t
                fut.add_done_callback(self._finished)
                self._pending[src.name] = fut
                started.append(fut)
        if wait:
            for fut in started:
                fut.exception(timeout=READ_TIMEOUT_S + 1)
        self.ticks += 1

    def _finished(self, fut: Future) -> None:
        with self._lock:
            self._started.pop(fut, None)

    def settled_until(self) -> float:
        """The latest time up to which every read is in the timeline (written, or recorded
        missing): the oldest unfinished read's time, or now when none is running. Data up to it
        will not change, so a judgement made on it can be made again exactly."""
        with self._lock:
            return min(self._started.values(), default=time.time()) - 1e-6

    def _read(self, src: Source, t: float) -> None:
        try:
            self.timeline.add(src.read(t))
        except SourceError as exc:
            self.timeline.missing(t, src.name, str(exc))
        except Exception as exc:  # noqa: BLE001 - one broken source must not stop sampling
            self.timeline.missing(t, src.name, f"{exc.__class__.__name__}: {exc}")

    def _loop(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            self.sample_once(wait=False)
            next_at += self.interval_s
            self._stop.wait(max(0.0, next_at - time.monotonic()))
