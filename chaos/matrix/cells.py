"""A matrix's cells, from the stack file alone: every link (caller -> dependency) × hang, slow and
down, and every service × kill and pause. Each cell is one fault, written as an experiment's fault."""

from __future__ import annotations

import fnmatch
import re
from typing import Literal

from pydantic import BaseModel, Field, TypeAdapter

from chaos import faults
from chaos.faults.base import FaultError
from chaos.stack import Stack

Kind = Literal["hang", "slow", "down", "kill", "pause"]
#: Every kind, in the order cells run: a link's three, then a service's two.
KINDS: tuple[Kind, ...] = ("hang", "slow", "down", "kill", "pause")
LINK_KINDS: tuple[Kind, ...] = ("hang", "slow", "down")
#: What each kind means, for --help and the docs.
MEANING: dict[Kind, str] = {
    "hang": "the link holds every call open, sending nothing back (toxiproxy timeout 0, both streams)",
    "slow": "the link delays its data beyond a sane timeout (toxiproxy latency)",
    "down": "the link refuses connections (its proxy disabled)",
    "kill": "the service is killed (SIGKILL), started again when the cell heals",
    "pause": "the service is frozen (SIGSTOP, or its container paused), resumed when the cell heals",
}


class Cell(BaseModel):
    """One column of the matrix: a fault kind on one link or one service."""

    id: str = Field(description="kind:target, e.g. 'hang:front->echo' or 'kill:echo'")
    kind: Kind
    target: str = Field(description="the link's name (caller->dependency) or the service")
    caller: str | None = Field(None, description="a link's calling service")
    dependency: str = Field(description="the service the fault stands for: a link's dependency, or the service")

    def slug(self) -> str:
        """The id as a file and experiment name: 'hang.front-echo'."""
        return re.sub(r"[^A-Za-z0-9_.-]+", "-", self.id.replace(":", ".").replace("->", "-")).strip("-")

    def fault(self, slow_ms: int) -> dict[str, object]:
        """The cell's fault as an experiment writes it (the whole fault phase long)."""
        if self.kind == "hang":
            return {"type": "network.timeout", "link": self.target, "timeout_ms": 0, "stream": "both"}
        if self.kind == "slow":
            return {"type": "network.latency", "link": self.target, "latency_ms": slow_ms}
        if self.kind == "down":
            return {"type": "network.down", "link": self.target}
        return {"type": f"process.{self.kind}", "service": self.target}


class Skipped(BaseModel):
    """A cell the stack implies but that cannot run here, and why."""

    id: str
    why: str


def all_cells(stack: Stack) -> list[Cell]:
    """Every cell the stack implies, links first (in the file's order), then services."""
    cells = [Cell(id=f"{kind}:{stack.link_name(service, link)}", kind=kind, target=stack.link_name(service, link),
                  caller=service, dependency=link.to)
             for service, link in stack.links() for kind in LINK_KINDS]
    cells += [Cell(id=f"{kind}:{name}", kind=kind, target=name, dependency=name)
              for name in stack.services for kind in KINDS if kind not in LINK_KINDS]
    return cells


def select(stack: Stack, kinds: list[Kind], patterns: list[str], backend: str,
           slow_ms: int) -> tuple[list[Cell], list[Skipped]]:
    """The cells of `kinds` whose id matches a pattern (glob; none: all), and those of them that
    cannot act on `backend`, with the fault type's own reason."""
    adapter: TypeAdapter = TypeAdapter(faults.union())
    chosen, skipped = [], []
    for cell in all_cells(stack):
        if cell.kind not in kinds or patterns and not any(
                fnmatch.fnmatchcase(cell.id.replace(" ", ""), p.replace(" ", "")) for p in patterns):
            continue
        fault = adapter.validate_python(cell.fault(slow_ms))
        try:
            fault.resolve(stack, [])
        except FaultError as exc:
            skipped.append(Skipped(id=cell.id, why=str(exc)))
            continue
        if why := fault.unsupported(backend):
            skipped.append(Skipped(id=cell.id, why=f"{fault.type} on the {backend} backend {why}"))
            continue
        chosen.append(cell)
    return chosen, skipped
