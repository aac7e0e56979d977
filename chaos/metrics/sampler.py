"""Reads every source at a fixed interval into the timeline, concurrently and bounded."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait

from chaos.metrics.sources import READ_TIMEOUT_S, Source, SourceError
from chaos.metrics.timeline import Timeline


class Sampler:
    """A daemon thread sampling `sources` every `interval_s` until stopped."""

    def __init__(self, sources: list[Source], timeline: Timeline, interval_s: float = 1.0):
        self.sources, self.timeline, self.interval_s = sources, timeline, interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="sampler", daemon=True)
        self._pool = ThreadPoolExecutor(max_workers=max(len(sources), 1), thread_name_prefix="source")
        self.ticks = 0

    def start(self) -> "Sampler":
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the loop after the current tick (bounded by the read timeout); sample_once still works."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(READ_TIMEOUT_S * 3)

    def close(self) -> None:
        """Stop, and release the reader threads."""
        self.stop()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def sample_once(self) -> None:
        """Read every source now; failures are recorded as missing."""
        t = time.time()
        futures = {self._pool.submit(src.read, t): src for src in self.sources}
        done, not_done = wait(futures, timeout=READ_TIMEOUT_S + 1)
        for fut in done:
            src = futures[fut]
            try:
                self.timeline.add(fut.result())
            except SourceError as exc:
                self.timeline.missing(t, src.name, str(exc))
            except Exception as exc:  # noqa: BLE001 - one broken source must not stop sampling
                self.timeline.missing(t, src.name, f"{exc.__class__.__name__}: {exc}")
        for fut in not_done:
            self.timeline.missing(t, futures[fut].name, "read timed out")
        self.ticks += 1

    def _loop(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            self.sample_once()
            next_at += self.interval_s
            self._stop.wait(max(0.0, next_at - time.monotonic()))
