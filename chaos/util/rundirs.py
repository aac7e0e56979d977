"""Where a run, a started stack and a gate keep their files under the output directory.

`OUT/runs/<stamp>-<name>-<id>` (an experiment run, a game-day session, a gate's shared stack),
`OUT/stacks/<stamp>-<name>` (a stack started by hand or for a pytest session),
`OUT/gates/<stamp>-<policy>-<id>` and `OUT/matrices/<stamp>-<stack>-<id>`. The time stamp first, so a listing sorts oldest first.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Final, Literal

Area = Literal["runs", "stacks", "gates", "matrices"]
RUNS: Final = "runs"
STACKS: Final = "stacks"
GATES: Final = "gates"
MATRICES: Final = "matrices"


def new_id() -> str:
    """A short random id for a run or a gate (eight hex digits)."""
    return uuid.uuid4().hex[:8]


def new_dir(out_dir: Path, area: Area, *name: str) -> Path:
    """A fresh directory path `out_dir/area/<stamp>-<name parts joined by '-'>` (not created)."""
    return Path(out_dir) / area / "-".join([time.strftime("%Y%m%d-%H%M%S"), *name])


def listed(out_dir: Path, area: Area) -> list[Path]:
    """The directories of one area, oldest first."""
    return sorted(p for p in (Path(out_dir) / area).glob("*") if p.is_dir())
