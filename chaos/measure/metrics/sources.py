"""Metric sources, registered by kind; each read is bounded and a failed read is missing data.

    prometheus   a service's Prometheus text endpoint (parsed with prometheus_client); for a
                 builtin RabbitMQ, its rabbitmq_prometheus exporter
    rabbitmq     RabbitMQ's management API: the connection limit, queue depths (its counts lag)
    process      CPU and memory of a local service's whole process group (psutil)
    container    CPU, memory, pids and network of a docker-backend container (streamed)
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

import psutil
import requests
from prometheus_client.parser import text_string_to_metric_families

from chaos.backends.state import ServiceState
from chaos.components.rabbitmq import MANAGEMENT_PORT, PROMETHEUS_PORT, ManagementClient
from chaos.errors import InfraError
from chaos.measure.metrics.timeline import Sample
from chaos.spec.surfaces import base_name
from chaos.util.wire import WireError, fetch

#: Seconds one read of one source may take.
READ_TIMEOUT_S = 2.0
#: Stored with every successful read of a Prometheus endpoint, so a read that kept no sample
#: (the wanted series do not exist yet) still counts as a read, not as missing data.
SCRAPE_OK = "chaosgate_scrape_ok"


class SourceError(InfraError):
    """A source could not be read this time."""


class Source:
    """Something that yields samples when read."""

    def __init__(self, name: str, read: Callable[[float], list[Sample]], close: Callable[[], None] = lambda: None):
        self.name, self._read, self._close = name, read, close

    def read(self, t: float) -> list[Sample]:
        """Samples stamped `t`; SourceError when unreadable."""
        return self._read(t)

    def close(self) -> None:
        """Release what the source holds open (a stream, a thread)."""
        self._close()


Wanted = dict[str, set[str]] | None
_KINDS: dict[str, Callable[[str, ServiceState, Wanted], Source | None]] = {}


def register(kind: str):
    """Decorator: a factory (service name, its state, wanted metrics) -> Source, or None when not applicable."""

    def add(factory):
        _KINDS[kind] = factory
        return factory

    return add


def sources_for(services: dict[str, ServiceState], wanted: Wanted = None) -> list[Source]:
    """Every applicable source of every service. `wanted` (chaos.measure.sli.wanted_metrics): per source,
    the metrics SLIs read — an endpoint no SLI reads is not scraped, and of one that is only those
    lines are parsed and stored; None keeps everything."""
    found = []
    for name, svc in services.items():
        for factory in _KINDS.values():
            src = factory(name, svc, wanted)
            if src is not None:
                found.append(src)
    return found


@register("prometheus")
def prometheus(name: str, svc: ServiceState, wanted: Wanted = None) -> Source | None:
    keep = None if wanted is None else wanted.get(name)
    if wanted is not None and not keep:
        return None  # nothing reads it: no request, no parsing, no rows
    if svc.kind == "rabbitmq":
        # RabbitMQ's own exporter: unlike the management API's statistics, it is current.
        url = svc.url("/metrics", PROMETHEUS_PORT)
    elif svc.health_url and svc.port:
        url = svc.url("/metrics")
    else:
        return None
    http = requests.Session()

    def read(t: float) -> list[Sample]:
        try:
            status, body = fetch(http, "GET", url, READ_TIMEOUT_S)
        except WireError as exc:
            raise SourceError(str(exc)) from None
        if status != 200:
            raise SourceError(f"{url} answered {status}")
        text = body.decode("utf-8", errors="replace")
        if keep is not None:
            # Parsing is the sampler's main cost: hand the parser only the lines an SLI reads.
            text = "\n".join(line for line in text.splitlines() if line and line[0] != "#"
                              and base_name(line.split("{", 1)[0].split(" ", 1)[0]) in keep)
        out = [Sample(t=t, source=name, name=SCRAPE_OK, labels={}, value=1.0)]
        try:
            for family in text_string_to_metric_families(text):
                for s in family.samples:
                    if not s.name.endswith("_created"):
                        out.append(Sample(t=t, source=name, name=s.name, labels=dict(s.labels), value=s.value))
        except ValueError as exc:  # not the Prometheus text format: missing data, never a guess
            raise SourceError(f"{url}: not Prometheus text ({exc})") from None
        return out

    return Source(name, read)


@register("rabbitmq")
def rabbitmq(name: str, svc: ServiceState, wanted: Wanted = None) -> Source | None:
    if svc.kind != "rabbitmq" or (wanted is not None and f"{name}:rabbitmq" not in wanted):
        return None
    client = ManagementClient(svc.url(port=MANAGEMENT_PORT), timeout_s=READ_TIMEOUT_S)
    source = f"{name}:rabbitmq"

    def read(t: float) -> list[Sample]:
        try:
            overview = client.overview()
            limit = client.connection_limit()
            depths = client.queue_depths()
        except InfraError as exc:
            raise SourceError(str(exc)) from None
        totals = overview.get("object_totals", {})
        out = [Sample(t=t, source=source, name=f"rabbitmq_{k}", labels={}, value=float(totals.get(k, 0)))
               for k in ("connections", "channels", "queues", "consumers")]
        if limit is not None:
            out.append(Sample(t=t, source=source, name="rabbitmq_connection_limit", labels={}, value=float(limit)))
        out += [Sample(t=t, source=source, name="rabbitmq_queue_messages", labels={"queue": queue}, value=float(n))
                for queue, n in depths.items()]
        return out

    return Source(source, read)


class _ProcessTable:
    """One scan of the process table per tick, shared by every process source: each source
    scanning it alone would cost N scans of a table that itself grows with N services."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tick: float | None = None
        self._groups: dict[int, list[int]] = {}

    def group(self, pgid: int, t: float) -> list[int]:
        """Pids in process group `pgid` as of the scan for tick `t` (sources of one tick share `t`)."""
        with self._lock:
            if self._tick != t:
                groups: dict[int, list[int]] = {}
                for p in psutil.process_iter(["pid"]):
                    try:
                        groups.setdefault(os.getpgid(p.pid), []).append(p.pid)
                    except (psutil.NoSuchProcess, ProcessLookupError, PermissionError):
                        continue
                self._tick, self._groups = t, groups
            return self._groups.get(pgid, [])


_PROCESS_TABLE = _ProcessTable()


@register("process")
def process(name: str, svc: ServiceState, wanted: Wanted = None) -> Source | None:
    if svc.process is None or (wanted is not None and f"{name}:process" not in wanted):
        return None
    pgid = svc.process.pid
    source = f"{name}:process"
    procs: dict[int, psutil.Process] = {}

    def read(t: float) -> list[Sample]:
        cpu = rss = 0.0
        alive = 0
        for pid in _PROCESS_TABLE.group(pgid, t):
            try:
                proc = procs.get(pid) or procs.setdefault(pid, psutil.Process(pid))
                times = proc.cpu_times()
                cpu += times.user + times.system
                rss += proc.memory_info().rss
                alive += 1
            except (psutil.NoSuchProcess, ProcessLookupError, PermissionError):
                continue
        if not alive:
            raise SourceError(f"no process left in group {pgid}")
        return [Sample(t=t, source=source, name="process_cpu_seconds_total", labels={}, value=cpu),
                Sample(t=t, source=source, name="process_resident_memory_bytes", labels={}, value=rss),
                Sample(t=t, source=source, name="process_count", labels={}, value=float(alive))]

    return Source(source, read)


@register("container")
def container(name: str, svc: ServiceState, wanted: Wanted = None) -> Source | None:
    if not svc.container_name:
        return None
    from chaos.measure.metrics.containers import STALE_S, ContainerStream, samples

    stream = ContainerStream(svc.container_name, svc.engine).start()
    source = f"{name}:container"

    def read(t: float) -> list[Sample]:
        got = stream.latest()
        if got is None or time.monotonic() - got[0] > STALE_S:
            raise SourceError(stream.error or "no stats reading yet")
        return samples(t, source, got[1])

    return Source(source, read, close=stream.stop)
