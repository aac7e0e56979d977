"""matrix.json: the settings a matrix ran with, each cell's run and entries, and the calls found unbounded."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from chaos.matrix.cells import Cell, Kind, Skipped
from chaos.measure.result import Class
from chaos.util.stored import read_model

MATRIX_FILE = "matrix.json"
Status = Literal["OK", "DEGRADED", "UNAVAILABLE", "UNKNOWN"]


class Settings(BaseModel):
    """What a matrix runs: the stack, the surfaces judged, the load, the cells and their windows."""

    stack: str = Field(description="the compose file (absolute)")
    surfaces: str = Field(description="the surface set file (absolute)")
    backend: Literal["local", "docker"] = "local"
    variables: dict[str, str] = Field(default_factory=dict, description="stack variables (--set)")
    load_profile: str | None = Field(None, description="locustfile (absolute)")
    target: str | None = Field(None, description="the service the load is sent to")
    users: int = Field(10, ge=1, le=10000)
    load_environment: dict[str, str] = Field(default_factory=dict, description="variables for the profile")
    kinds: list[Kind]
    patterns: list[str] = Field(default_factory=list, description="--cells globs; none: every cell")
    warmup_s: float = Field(3.0, ge=0)
    baseline_s: float = Field(10.0, gt=0)
    window_s: float = Field(30.0, gt=0, description="each cell's fault window: long enough that any sane timeout fires")
    recovery_s: float = Field(15.0, ge=0, description="the longest a cell waits for its surfaces to recover")
    slow_ms: int = Field(5000, ge=1, description="a slow cell's added latency: beyond a sane timeout")
    unbounded_after_s: float = Field(description="a call held open this long, and still open at the heal, never gives up")

    def cell_s(self) -> float:
        """Declared seconds of one cell's phases."""
        return self.warmup_s + self.baseline_s + self.window_s + self.recovery_s


class Entry(BaseModel):
    """One surface in one cell."""

    surface: str
    status: Status
    classification: Class = Field(description="the surface against the cell's fault: target, direct or beyond")
    change: str = Field("", description="how much worse, in words (DEGRADED, UNAVAILABLE)")
    magnitude: float | None = None
    recover_s: float | None = Field(None, description="seconds after the heal until it was back within tolerance")
    recovered: bool | None = Field(None, description="False: not back within the recovery window")
    why: str = Field("", description="how it was judged: each SLI's test, or why it is unknown")


class CallBound(BaseModel):
    """A hang cell's finding: does the caller give up on a hung dependency, and did the waiting spread?"""

    edge: str
    caller: str
    dependency: str
    bounded: bool | None = Field(description="False: calls held for the whole hang (no timeout); None: not seen")
    finding: str = Field(description="one line a person reads: 'no timeout: 12 calls held 30 s; spread to ...'")
    held: int = 0
    gave_up_after_s: float | None = None
    longest_s: float | None = None
    spread: list[str] = Field(default_factory=list, description="surfaces beyond the target that degraded")


class CellResult(BaseModel):
    """One cell: its run, whether its fault landed, an entry per surface, and for a hang its callers' bound."""

    cell: Cell
    experiment: str = Field(description="the generated experiment file (rerun it with `chaosgate run`)")
    run_dir: str | None = None
    run_status: str | None = None
    reason: str | None = None
    landed: bool | None = None
    landing: str = ""
    entries: list[Entry] = Field(default_factory=list)
    calls: CallBound | None = None


class Shard(BaseModel):
    """A share of a sharded matrix's cells, run on a Docker engine of its own (`--engines`)."""

    engine: str = Field(description="the DOCKER_HOST the share ran on ('' for this machine's socket)")
    cells: list[str] = Field(description="the ids of its cells, in the order it ran them")
    status: Literal["pending", "done", "failed", "interrupted"] = "pending"
    reason: str = ""
    wall_s: float | None = Field(None, description="seconds from its start to its end")


class Matrix(BaseModel):
    """A whole matrix: rows are surfaces, columns cells."""

    matrix_id: str
    stack_name: str
    settings: Settings
    surfaces: list[str]
    cells: list[CellResult] = Field(default_factory=list)
    skipped: list[Skipped] = Field(default_factory=list)
    family_alpha: float = Field(description="error level of one cell's DEGRADED claims (ALPHA split over cells)")
    started_at: float
    ended_at: float | None = None
    stopped: str | None = Field(None, description="why the matrix ended before its last cell")
    shards: list[Shard] = Field(default_factory=list, description="the engines it was sharded over (none: one stack)")

    def unbounded(self) -> list[CallBound]:
        """Calls that never gave up, the most spread first: the finding a reader needs before any other."""
        found = [c.calls for c in self.cells if c.calls is not None and c.calls.bounded is False]
        return sorted(found, key=lambda b: (-len(b.spread), -b.held))

    def save(self, out: Path) -> None:
        """Write matrix.json into the matrix directory."""
        (out / MATRIX_FILE).write_text(self.model_dump_json(indent=2))


def load_matrix(out: Path | str) -> Matrix:
    """A matrix directory's matrix.json; InputError when there is none."""
    return read_model(Path(out) / MATRIX_FILE, Matrix, "no matrix here (no matrix.json)")
