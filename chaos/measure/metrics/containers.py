"""Container resource use for the docker backend, streamed: one `stats` stream per container.

A one-shot `stats(stream=False)` takes ~2 s (the engine waits for two CPU readings), so one per
container per tick cannot keep a 1 Hz clock. Instead a daemon thread per container follows the
engine's stream (one reading a second) and a read takes the latest reading, refusing one older
than STALE_S. Streams follow the container *name*, so a container replaced by a fault
(config.swap, process.kill's restart) keeps being measured.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from chaos.measure.metrics.timeline import Sample

#: A reading older than this is missing data, not a value (a stream that stalled or ended).
STALE_S = 5.0
#: Seconds between attempts to (re)open a stream that ended or failed.
RETRY_S = 1.0


class ContainerStream:
    """Follows one container's stats stream in a daemon thread; `latest()` is the newest reading."""

    def __init__(self, container: str, engine: str | None = None):
        self.container, self.engine = container, engine
        self._lock = threading.Lock()
        self._latest: tuple[float, dict[str, Any]] | None = None
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._follow, name=f"stats-{container}", daemon=True)

    def start(self) -> ContainerStream:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Ask the thread to end after its current reading (it is a daemon: exit never waits)."""
        self._stop.set()

    def latest(self) -> tuple[float, dict[str, Any]] | None:
        """(monotonic time received, raw stats) of the newest reading, if any."""
        with self._lock:
            return self._latest

    def _follow(self) -> None:
        from chaos.components import containers

        while not self._stop.is_set():
            try:
                client = containers.connect(engine=self.engine)
                # Each chunk arrives about once a second; the client's timeout bounds a stalled one.
                for stats in client.api.stats(self.container, stream=True, decode=True):
                    if self._stop.is_set():
                        return
                    if str(stats.get("read", "")).startswith("0001-"):
                        # A stopped container's stream goes on with all-zero readings: they are
                        # not measurements, and recording them would turn missing data into zeros.
                        self.error = "container not running"
                        continue
                    with self._lock:
                        self._latest = (time.monotonic(), stats)
                        self.error = None
                self.error = "stats stream ended (container stopped or removed)"
            except Exception as exc:  # noqa: BLE001 - any failure is retried; the read reports it
                self.error = f"{exc.__class__.__name__}: {exc}"
            self._stop.wait(RETRY_S)


def samples(t: float, source: str, stats: dict[str, Any]) -> list[Sample]:
    """cAdvisor-named samples from one Docker stats reading."""
    cpu = stats.get("cpu_stats", {}).get("cpu_usage", {}).get("total_usage")
    mem = stats.get("memory_stats", {})
    nets = (stats.get("networks") or {}).values()
    values = {
        "container_cpu_usage_seconds_total": cpu / 1e9 if cpu is not None else None,
        "container_memory_usage_bytes": mem.get("usage"),
        # The page cache is reclaimable; what is left is what an OOM kill would look at.
        "container_memory_working_set_bytes": (mem["usage"] - mem.get("stats", {}).get("total_inactive_file", 0))
        if "usage" in mem else None,
        "container_pids": stats.get("pids_stats", {}).get("current"),
        "container_network_receive_bytes_total": sum(n.get("rx_bytes", 0) for n in nets) if nets else None,
        "container_network_transmit_bytes_total": sum(n.get("tx_bytes", 0) for n in nets) if nets else None,
    }
    return [Sample(t=t, source=source, name=k, labels={}, value=float(v)) for k, v in values.items() if v is not None]
