"""Landing evidence of link faults: traffic crossed the link, and for a hang, calls were held open.

Traffic is toxiproxy's per-proxy byte counters (`-proxy-metrics`), read when the fault is injected
and when it ends. They count a chunk once it enters the proxy's toxics, so a hang, which holds
the first chunk, moves them only when it is removed: a hang is shown by the socket table of
toxiproxy's network namespace instead, sampled on the engine's tick. A caller's connection
opened during the fault and seen ESTABLISHED is a call held; one the proxy itself closed (its
side in TIME_WAIT, which lasts a minute, so a sample every quarter second cannot miss it) is a
call the hang did not hold: the dependency closed after answering and the close passed through.
Connections opened before the fault are not counted as held calls: an idle pooled connection
looks the same as one whose call hangs. A held call last seen before the last sample was closed by
its caller while the hang was in place (the caller gave up: its timeout); one still open at the
last sample was held to the end (`HeldCalls`, which the matrix reads to find calls with no timeout).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from chaos.components import sockets
from chaos.components.toxiproxy import LinkBytes
from chaos.errors import InfraError
from chaos.faults.base import FaultContext
from chaos.faults.landing import HeldCalls, Probe, UnitLanding

#: Seconds between socket-table samples (the engine ticks every 0.25 s).
SAMPLE_EVERY_S = 0.25
#: How long an idle-looking proxy's counters are read again at the fault's end.
RECOUNT_S = 1.0


def _fmt(n: float) -> str:
    return f"{n / 1024:.1f} KiB" if n >= 1024 else f"{n:.0f} B"


def socket_reader(ctx: FaultContext) -> Callable[[], list[sockets.Socket]] | None:
    """Reads the socket table of the namespace the stack's toxiproxy listens in; None if unknown."""
    state = ctx.state
    if state.toxiproxy is not None:
        pid = state.toxiproxy.pid
        return lambda: sockets.of_process(pid)
    if state.toxiproxy_container:
        from chaos.components import containers

        container = containers.lookup(state.toxiproxy_container, state.engine)
        if container is None:
            return None
        return sockets.reader_of_container(container, containers.remote_host(state.engine or "") is None)
    return None


class _Watch:
    """One proxy's connections during the fault."""

    def __init__(self, port: int):
        self.port = port
        self.first: dict[tuple[str, str], float] = {}
        self.last: dict[tuple[str, str], float] = {}
        self.closed: set[tuple[str, str]] = set()
        self.closed_before: set[tuple[str, str]] = set()
        self.open_before: set[tuple[str, str]] = set()
        self.started: float | None = None  # the first sample while the fault was in place
        self.latest = 0.0  # the last one

    def see(self, rows: list[sockets.Socket], now: float, before: bool = False) -> None:
        if not before:
            self.started = now if self.started is None else self.started
            self.latest = now
        for row in rows:
            if row.local_port != self.port:
                continue
            key = (row.local, row.remote)
            if row.state == sockets.TIME_WAIT:
                (self.closed_before if before else self.closed).add(key)
            elif row.state == sockets.ESTABLISHED:
                if before:
                    self.open_before.add(key)
                else:
                    self.first.setdefault(key, now)
                    self.last[key] = now
        self.closed -= self.closed_before

    def held(self) -> list[float]:
        """How long each connection opened during the fault, and not closed by the proxy, was seen open."""
        return [self.last[k] - self.first[k] for k in self._calls()]

    def _calls(self) -> list[tuple[str, str]]:
        return [k for k in self.first if k not in self.closed and k not in self.open_before]

    def calls(self) -> HeldCalls:
        """The held calls split into those the caller gave up on and those open at the last sample.

        A connection last seen before the last sample was closed by its caller (the proxy's own
        closes are in `closed`, left out): its duration is at least how long the caller waited."""
        ended = [self.last[k] - self.first[k] for k in self._calls() if self.last[k] < self.latest]
        to_end = [self.latest - self.first[k] for k in self._calls() if self.last[k] >= self.latest]
        return HeldCalls(window_s=round(self.latest - (self.started or self.latest), 2), gave_up=len(ended),
                         gave_up_after_s=round(statistics.median(ended), 2) if ended else None,
                         gave_up_max_s=round(max(ended), 2) if ended else None, held_to_end=len(to_end),
                         longest_s=round(max(to_end), 2) if to_end else None)


class LinkProbe(Probe):
    """Per proxy: bytes carried during the fault; with `hang`, calls held; with `down`, the proxy
    read back disabled and the link in use before it went down."""

    def __init__(self, ctx: FaultContext, proxies: list[str], hang: bool = False, down: bool = False):
        self.client, self.proxies, self.hang, self.down = ctx.toxiproxy, proxies, hang, down
        self.problem: str | None = None
        self.before: dict[str, LinkBytes] = {}
        try:
            self.before = self.client.traffic()
        except InfraError as exc:
            self.problem = f"traffic could not be read: {exc}"
        self.disabled: dict[str, bool] = {}
        self.read_sockets = socket_reader(ctx) if hang else None
        ports = {link.name: (link.inner_port or link.listen_port) for link in ctx.state.links}
        self.watches = {p: _Watch(ports[p]) for p in proxies if p in ports}
        self.socket_problem: str | None = None if self.read_sockets or not hang else "no socket table to read"
        self._last = 0.0
        self._sample_sockets(0.0, before=True)

    def _sample_sockets(self, now: float, before: bool = False) -> None:
        if self.read_sockets is None or self.socket_problem:
            return
        try:
            rows = self.read_sockets()
        except (OSError, InfraError) as exc:
            self.socket_problem = f"the proxy's connections could not be read: {exc}"
            return
        for watch in self.watches.values():
            watch.see(rows, now, before)

    def sample(self, now: float) -> None:
        if now - self._last < SAMPLE_EVERY_S:
            return
        self._last = now
        self._sample_sockets(now)
        if self.down and not all(self.disabled.get(p) for p in self.proxies):
            try:
                found = self.client.proxies()
                for p in self.proxies:
                    self.disabled[p] = self.disabled.get(p, False) or (p in found and not found[p].enabled)
            except InfraError:
                pass  # read again on the next tick; finish() says so if it never could

    def finish(self, now: float) -> list[UnitLanding]:
        self.sample(now + SAMPLE_EVERY_S)
        after = self._traffic_after()
        return [self._unit(p, after.get(p, LinkBytes())) for p in self.proxies]

    def _traffic_after(self) -> dict[str, LinkBytes]:
        """The counters at the fault's end. A proxy that seems to have carried nothing is read again
        a few times (at most RECOUNT_S in all): the counters can lag the bytes themselves — a call
        through a 400 ms latency had returned while its proxy's counters had not moved yet, on a
        busy CI machine — and "no traffic" is a verdict, so it must not be a race."""
        deadline = time.monotonic() + RECOUNT_S
        while True:
            try:
                after = self.client.traffic()
            except InfraError as exc:
                self.problem = self.problem or f"traffic could not be read: {exc}"
                return {}
            idle = [p for p in self.proxies if after.get(p, LinkBytes()).minus(self.before.get(p, LinkBytes())).total <= 0]
            if not idle or self.hang or self.down or time.monotonic() >= deadline:
                return after
            time.sleep(SAMPLE_EVERY_S)

    def _unit(self, proxy: str, after: LinkBytes) -> UnitLanding:
        before = self.before.get(proxy, LinkBytes())
        if self.problem:
            return UnitLanding(target=proxy, landed=None, evidence=self.problem)
        if self.hang:
            return self._hang(proxy, after.minus(before))
        crossed = after.minus(before)
        if self.down:
            if not self.disabled.get(proxy):
                return UnitLanding(target=proxy, landed=False, evidence="the proxy was never read back disabled")
            if before.total <= 0:
                return UnitLanding(target=proxy, landed=False, evidence=f"no traffic had crossed {proxy} before "
                                   "it went down: no caller uses it")
            return UnitLanding(target=proxy, landed=True, evidence=f"refusing connections (read back disabled); "
                               f"it had carried {_fmt(before.total)} before")
        if crossed.total <= 0:
            return UnitLanding(target=proxy, landed=False, evidence=f"no traffic crossed {proxy} during the fault")
        return UnitLanding(target=proxy, landed=True, evidence=f"traffic crossed during the fault "
                           f"({_fmt(crossed.received_upstream)} sent, {_fmt(crossed.sent_downstream)} answered)")

    def _hang(self, proxy: str, crossed: LinkBytes) -> UnitLanding:
        if self.socket_problem:
            return UnitLanding(target=proxy, landed=None, evidence=self.socket_problem)
        watch = self.watches.get(proxy)
        if watch is None:
            return UnitLanding(target=proxy, landed=None, evidence="no port known for this proxy")
        held, closed = watch.held(), len(watch.closed)
        if held:
            calls = watch.calls()
            gave_up = (f"; callers gave up on {calls.gave_up} after {calls.gave_up_after_s:.1f} s (median)"
                       if calls.gave_up else "")
            return UnitLanding(target=proxy, landed=True, evidence=f"{len(held)} calls held open (longest "
                               f"{max(held):.1f} s), {closed} closed by the proxy{gave_up}; {calls.held_to_end} "
                               "still open when the hang ended", calls=calls)
        if closed:
            return UnitLanding(target=proxy, landed=False, evidence=f"calls were closed, not held: the proxy closed "
                               f"{closed} connections during the fault (the dependency closes after answering and "
                               "the close passed through; a hang needs stream: both)")
        if watch.open_before & set(watch.first):
            return UnitLanding(target=proxy, landed=None, evidence="only connections opened before the fault were "
                               "seen, and an idle one cannot be told from a held call")
        if crossed.total > 0:
            return UnitLanding(target=proxy, landed=None, evidence="traffic crossed, but no call was seen held")
        return UnitLanding(target=proxy, landed=False, evidence=f"no traffic crossed {proxy} during the fault")
