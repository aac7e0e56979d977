"""CPU limits for a local service's processes through the cgroup v1 cpu controller.

A local service is a process group, not a container, so a CPU fault gives it a cgroup of its own
while the fault lasts: a child of the cgroup its processes are in (whatever limits that one has
still hold), with a CFS quota. Children forked meanwhile inherit it; release moves every task back.
"""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path

from chaos.errors import InfraError

#: Where the cpu controller is mounted; hosts that mount it elsewhere say so in this variable.
CPU_ROOT_ENV = "CHAOSGATE_CPU_CGROUP"
RMDIR_DEADLINE_S = 5.0


class CgroupError(InfraError):
    """The cgroup could not be set up or released."""


def cpu_root() -> Path:
    """The cpu controller's mount point."""
    return Path(os.environ.get(CPU_ROOT_ENV) or "/sys/fs/cgroup/cpu")


def unavailable() -> str | None:
    """Why CPU limits cannot be set on this host, or None when they can."""
    root = cpu_root()
    if not (root / "cpu.cfs_quota_us").exists():
        return (f"needs the cgroup v1 cpu controller at {root} (set {CPU_ROOT_ENV} if it is mounted "
                f"elsewhere; on a cgroup v2 host use the docker backend)")
    if os.geteuid() != 0 and not os.access(root, os.W_OK):
        return f"needs write access to {root} (run as root, or use the docker backend)"
    return None


def cpu_cgroup_of(pid: int) -> Path:
    """The directory of the cpu cgroup `pid` is in."""
    try:
        lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
    except OSError as exc:
        raise CgroupError(f"cannot read the cgroups of pid {pid}: {exc}") from None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if "cpu" in controllers.split(","):
            return cpu_root() / path.lstrip("/")
    raise CgroupError(f"pid {pid} is in no cpu cgroup")


def limit(group: Path, pids: list[int], quota_us: int, period_us: int) -> None:
    """Create `group` with a CFS quota of `quota_us` per `period_us` and move `pids` into it."""
    group.mkdir(exist_ok=True)
    (group / "cpu.cfs_period_us").write_text(str(period_us))
    (group / "cpu.cfs_quota_us").write_text(str(quota_us))
    for pid in pids:
        _move(pid, group)


def release(group: Path, origin: Path) -> None:
    """Move every task of `group` back to `origin` and remove `group` (gone already is fine)."""
    deadline = time.monotonic() + RMDIR_DEADLINE_S
    while group.exists():
        for pid in tasks(group):
            _move(pid, origin)
        try:
            group.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError as exc:
            # EBUSY: a task was forked into the group between the move and the rmdir; go again.
            if exc.errno != errno.EBUSY or time.monotonic() > deadline:
                raise CgroupError(f"cannot remove {group}: {exc}") from None
            time.sleep(0.05)


def tasks(group: Path) -> list[int]:
    """Processes in `group` (none when it does not exist)."""
    try:
        return [int(p) for p in (group / "cgroup.procs").read_text().split()]
    except FileNotFoundError:
        return []


def throttled_periods(group: Path) -> int:
    """How many CFS periods the kernel has throttled `group` in."""
    stat = dict(line.split() for line in (group / "cpu.stat").read_text().splitlines())
    return int(stat["nr_throttled"])


def _move(pid: int, group: Path) -> None:
    try:
        (group / "cgroup.procs").write_text(str(pid))
    except ProcessLookupError:
        pass  # it exited: nothing to move
    except OSError as exc:
        raise CgroupError(f"cannot move pid {pid} to {group}: {exc}") from None
