"""The live console of a run or a game-day session: phase and time left, each surface's SLIs with
a sparkline, the radius so far, the active faults and the latest messages.

It only reads: the timeline (its own SQLite connection) and a status callback, redrawn by rich
a few times a second. "Degraded now" compares the last window with the baseline phase using the
SLI's own tolerance; the judged blast radius (with statistics) is the result's, at the end.
"""

from __future__ import annotations

import collections
import contextlib
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from pydantic import BaseModel
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from chaos.measure.blast import is_degraded
from chaos.measure.metrics.timeline import Timeline
from chaos.measure.sli import evaluate
from chaos.report.series import windowed
from chaos.spec.surfaces import Surface

BLOCKS = "▁▂▃▄▅▆▇█"
#: Seconds per sparkline point, and points shown.
WINDOW_S, POINTS = 2.0, 24
#: Seconds between recomputations of the SLIs (drawing is cheaper and more frequent).
COMPUTE_EVERY_S = 1.0


class LiveStatus(BaseModel):
    """What the run or session says about itself right now."""

    title: str
    phase: str
    left_s: float | None = None
    phases: dict[str, tuple[float, float]] = {}
    faults: list[str] = []


def sparkline(values: list[float | None]) -> str:
    """Unicode blocks scaled between the series' min and max; a gap where there is no value."""
    known = [v for v in values if v is not None]
    if not known:
        return " " * len(values)
    lo, hi = min(known), max(known)
    span = hi - lo
    return "".join(" " if v is None else BLOCKS[0 if span == 0 else round((v - lo) / span * (len(BLOCKS) - 1))]
                   for v in values)


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.3g}"


class LiveView:
    """A background thread drawing the console until stopped."""

    def __init__(self, surfaces: dict[str, Surface], run_dir: Path, status: Callable[[], LiveStatus],
                 console: Console | None = None):
        self.surfaces, self.run_dir, self.status = surfaces, run_dir, status
        self.console = console or Console(stderr=True)
        self.log: collections.deque[str] = collections.deque(maxlen=6)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="live", daemon=True)
        self._table: Table | None = None
        self._radius = "so far: nothing degraded"
        self._baseline: dict[tuple[str, str], float | None] = {}

    def say(self, msg: str) -> None:
        """A progress line: kept in the console's message panel."""
        self.log.append(f"{time.strftime('%H:%M:%S')} {msg}")

    def start(self) -> LiveView:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop drawing (bounded); the last frame stays on the terminal."""
        self._stop.set()
        self._thread.join(5)

    def _loop(self) -> None:
        timeline = None
        with Live(console=self.console, refresh_per_second=4, transient=False) as live:
            last = 0.0
            while not self._stop.is_set():
                try:
                    status = self.status()
                    if timeline is None and (self.run_dir / "timeline.db").exists():
                        timeline = Timeline(self.run_dir)
                    if timeline is not None and time.monotonic() - last >= COMPUTE_EVERY_S:
                        last = time.monotonic()
                        self._compute(timeline, status)
                    live.update(self.render(status))
                except Exception as exc:  # noqa: BLE001 - a drawing problem must never stop the run
                    self.say(f"live view: {exc.__class__.__name__}: {exc}")
                self._stop.wait(0.25)
            try:
                live.update(self.render(self.status()))
            except Exception:  # noqa: BLE001 - as above
                pass

    def _compute(self, tl: Timeline, status: LiveStatus) -> None:
        now = time.time()
        ends = [now - WINDOW_S * i for i in range(POINTS - 1, -1, -1)]
        base = status.phases.get("baseline")
        in_fault = "fault" in status.phases
        table = Table("surface", "SLI", "baseline", "now", f"last {POINTS * WINDOW_S:g}s", "", expand=False)
        degraded = []
        for sname, surface in self.surfaces.items():
            for name, sli in surface.slis.items():
                source = sli.source or surface.services[0]
                key = (sname, name)
                if base and in_fault and key not in self._baseline:
                    self._baseline[key] = evaluate(tl, sli, source, base[0], base[1]).value
                series = windowed(tl, sli, source, ends, WINDOW_S * 2.5)
                current = next((v for v in reversed(series) if v is not None), None)
                bad, _ = is_degraded(sli, self._baseline.get(key), current)
                mark = Text("DEGRADED", style="bold red") if bad else Text("ok" if bad is False else "", style="green")
                if bad:
                    degraded.append(sname)
                table.add_row(sname, name, _fmt(self._baseline.get(key)), _fmt(current), sparkline(series), mark)
        self._table = table
        surfaces = sorted(set(degraded))
        self._radius = ("so far: " + (", ".join(surfaces) + " degraded" if surfaces else "nothing degraded")
                        + (" (against the baseline phase, by each SLI's tolerance)" if in_fault else
                           " (compared once the fault phase starts)"))

    def render(self, status: LiveStatus) -> Group:
        """One frame."""
        left = "" if status.left_s is None else f" — {max(status.left_s, 0):.0f}s left"
        head = Text.assemble((status.title, "bold"), "  phase ", (status.phase, "bold cyan"), left)
        faults = Text("faults active: " + (", ".join(status.faults) or "none"),
                      style="bold yellow" if status.faults else "")
        parts: list[RenderableType] = [head, faults, self._table or Text("waiting for the first samples…"),
                                       Text(self._radius)]
        parts.append(Panel("\n".join(self.log) or " ", title="messages", title_align="left"))
        return Group(*parts)


def engine_status(engine) -> LiveStatus:
    """A running Engine's status (read from its result as it fills in)."""
    phases = dict(engine.result.phases)
    current = engine.stage
    declared = engine.spec.phases.model_dump()
    left = phases[current][0] + declared[current] - time.time() if current in phases and current in declared else None
    active = [f"{f.type} on {', '.join(f.targets)}" for f in engine.faults if f.injected_at and not f.removed_at]
    return LiveStatus(title=f"chaosgate run {engine.spec.name}", phase=current, left_s=left, phases=phases,
                      faults=active)


def start_live(wanted: bool, surfaces: dict[str, Surface], run_dir: Path, status: Callable[[], LiveStatus],
               say: Callable[[str], None]) -> LiveView | None:
    """A started live view when asked for and stderr is a terminal; otherwise None (and said why)."""
    if not wanted:
        return None
    if not sys.stderr.isatty():
        say("--live needs a terminal: showing progress lines instead")
        return None
    return LiveView(surfaces, run_dir, status).start()


@contextlib.contextmanager
def live_console(wanted: bool, surfaces: dict[str, Surface], run_dir: Path, status: Callable[[], LiveStatus],
                 say: Callable[[str], None], speaker: object) -> Iterator[None]:
    """For the block: a live view when asked for (and on a terminal), `speaker.say` drawn in it."""
    live = start_live(wanted, surfaces, run_dir, status, say)
    if live is not None:
        speaker.say = live.say  # type: ignore[attr-defined]
    try:
        yield
    finally:
        if live is not None:
            live.stop()
            speaker.say = say  # type: ignore[attr-defined]
