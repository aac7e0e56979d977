"""Child processes in their own process groups, stopped whole: SIGTERM, grace, SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from chaos.errors import InfraError

#: How often group membership is polled while waiting for a group to die.
POLL_INTERVAL_S = 0.1
#: Every process chaosgate starts carries its run directory in this variable, so one whose
#: directory was deleted (a CI workspace wiped after a SIGKILL) can still be found and stopped.
RUN_DIR_ENV = "CHAOSGATE_RUN_DIR"


class ProcessRecord(BaseModel):
    """Enough to find a process again from another command, and not mistake a reused pid."""

    model_config = ConfigDict(defer_build=True)

    name: str
    pid: int
    create_time: float
    log: str
    argv: list[str]
    #: Seconds from boot to its start (see `started_s`); None in records older than the field.
    started: float | None = None


def started_s(pid: int) -> float | None:
    """Seconds from boot to the start of `pid`, from /proc (None when unreadable or not Linux).

    What identifies a process with its pid. psutil's create_time adds to this a boot time it reads
    from the wall clock at each call, so an NTP step moves it by a second for a process that never
    changed (psutil issues 1724, 2526): a live locust was once taken for one that had exited."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Fields after the command name (which may hold spaces and parentheses); starttime is field 22.
    return int(stat.rsplit(")", 1)[1].split()[19]) / os.sysconf("SC_CLK_TCK")


def same_process(pid: int, started: float | None, create_time: float) -> bool:
    """True when `pid` is still the process recorded with this start (a reused pid is not)."""
    import psutil

    if started is not None:
        now = started_s(pid)
        return now is not None and abs(now - started) < 1e-6
    # No /proc when it was recorded, or a record from before `started`: the wall-clock start.
    return abs(psutil.Process(pid).create_time() - create_time) < 0.01


def spawn(name: str, argv: Sequence[str], env: Mapping[str, str], log: Path,
          cwd: Path | None = None, user: str | None = None) -> ProcessRecord:
    """Start `argv` as the leader of a new session, output appended to `log` (which lives one
    folder below its run directory: logs/, load/)."""
    import psutil  # here, not at import: `validate` and `--help` never need it

    log.parent.mkdir(parents=True, exist_ok=True)
    env = {**env, RUN_DIR_ENV: str(log.parent.parent.resolve())}
    with open(log, "ab") as out:
        try:
            proc = subprocess.Popen(list(argv), env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                    user=user)
        except OSError as exc:
            raise InfraError(f"{name}: cannot start {argv[0]!r}: {exc.strerror}") from None
    try:
        created = psutil.Process(proc.pid).create_time()
    except psutil.NoSuchProcess:
        created = 0.0
    _children[proc.pid] = proc
    return ProcessRecord(name=name, pid=proc.pid, create_time=created, started=started_s(proc.pid), log=str(log),
                         argv=list(argv))


# Popen objects of our own children, reaped as they die so they do not linger as zombies; how
# each ended, by pid, so a report can say why a child died.
_children: dict[int, subprocess.Popen] = {}
_ended: dict[int, int] = {}


def _reap() -> None:
    for pid, proc in list(_children.items()):
        if (code := proc.poll()) is not None:
            _ended[pid] = code
            del _children[pid]


def how_it_ended(record: ProcessRecord) -> str:
    """"exit code N", "killed by SIGKILL", or what is known when it was not our child."""
    _reap()
    code = _ended.get(record.pid)
    if code is None:
        return "still running" if is_alive(record) else "ended (not a child of this process: no exit status)"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def is_alive(record: ProcessRecord) -> bool:
    """True when the recorded process still runs (same pid *and* same start time)."""
    import psutil

    _reap()
    try:
        return (same_process(record.pid, record.started, record.create_time)
                and psutil.Process(record.pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


def group_members(pgid: int) -> list[int]:
    """Live, non-zombie pids whose process group is `pgid`."""
    import psutil

    _reap()
    members = []
    for proc in psutil.process_iter(["pid", "status"]):
        try:
            if os.getpgid(proc.pid) == pgid and proc.info["status"] != psutil.STATUS_ZOMBIE:
                members.append(proc.pid)
        except (ProcessLookupError, psutil.NoSuchProcess, PermissionError):
            continue
    return members


def stop_group(record: ProcessRecord, grace_s: float = 10.0) -> bool:
    """Stop the record's whole process group; True if SIGKILL was needed."""
    if not is_alive(record) and not group_members(record.pid):
        return False
    _signal_group(record.pid, signal.SIGTERM)
    if _wait_group_gone(record.pid, grace_s):
        return False
    _signal_group(record.pid, signal.SIGKILL)
    if not _wait_group_gone(record.pid, 10.0):
        raise InfraError(f"{record.name}: process group {record.pid} survived SIGKILL")
    return True


def signal_group(record: ProcessRecord, sig: int) -> None:
    """Send `sig` to the record's process group if the recorded leader is still the same process."""
    if is_alive(record):
        _signal_group(record.pid, sig)


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _wait_group_gone(pgid: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not group_members(pgid):
            return True
        time.sleep(POLL_INTERVAL_S)
    return not group_members(pgid)


def stop_orphans(grace_s: float = 10.0) -> list[str]:
    """Stop every process group started by chaosgate whose run directory no longer exists (and
    only those); what was stopped. A group of RabbitMQ's also loses its node data."""
    import psutil

    groups: dict[int, tuple[str, str, dict[str, str]]] = {}
    for proc in psutil.process_iter(["pid", "name"]):
        try:
            env = proc.environ()
            run_dir = env.get(RUN_DIR_ENV)
            if run_dir and not Path(run_dir).exists():
                groups.setdefault(os.getpgid(proc.pid), (run_dir, proc.info["name"], env))
        except (psutil.Error, OSError):
            continue
    done = []
    for pgid, (run_dir, name, env) in groups.items():
        if pgid == os.getpgid(0):
            continue  # never our own group
        _signal_group(pgid, signal.SIGTERM)
        if not _wait_group_gone(pgid, grace_s):
            _signal_group(pgid, signal.SIGKILL)
            _wait_group_gone(pgid, 10.0)
        node_data = Path(env.get("RABBITMQ_MNESIA_BASE", "")).parent
        if node_data.parent.name == "chaosgate" and env.get("RABBITMQ_NODENAME", "").startswith("chaosgate-"):
            import shutil

            shutil.rmtree(node_data, ignore_errors=True)
        done.append(f"stopped orphan process group {pgid} ({name}): its run directory {run_dir} is gone")
    return done


def tail(path: str | Path, lines: int = 15) -> str:
    """The last lines of a log file, for error messages."""
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.rstrip().splitlines()[-lines:])
