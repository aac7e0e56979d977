"""Rolling back what a journal says may still be injected — in the run, or after a SIGKILL."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import psutil
from pydantic import BaseModel

from chaos import backends
from chaos.backends.state import STATE_FILE, StackState
from chaos.errors import ChaosgateError, InfraError
from chaos.run.journal import JOURNAL_FILE, Entry, Journal, Reconciled
from chaos.util.procs import same_process, started_s
from chaos.util.rundirs import RUNS, STACKS, listed


class Outcome(BaseModel):
    """What rolling back one journal entry came to."""

    entry: Entry
    result: Literal["rolled_back", "gone_with_stack", "failed"]
    why: str | None = None

    def describe(self) -> str:
        """One line for a person."""
        what = f"{self.entry.fault} on {self.entry.target}"
        return {"rolled_back": f"rolled back {what}", "gone_with_stack": f"{what}: gone with its stack",
                "failed": f"FAILED to roll back {what}: {self.why}"}[self.result]


def _undo_newest_first(journal: Journal, entries: list[Entry], detail: str | None = None,
                       stack_gone: bool = False) -> list[Outcome]:
    """Undo `entries` newest first, marking each in the journal; with `stack_gone`, an undo that cannot
    reach its component counts as done (the fault lived in the stack that is gone)."""
    outcomes = []
    for entry in reversed(entries):
        try:
            entry.undo.rollback()
            journal.mark(entry.id, "rolled_back", detail)
            outcomes.append(Outcome(entry=entry, result="rolled_back"))
        except Exception as exc:  # noqa: BLE001 - whatever one undo met (a 500, nonsense), the others still run
            why = str(exc) if isinstance(exc, ChaosgateError) else f"{exc.__class__.__name__}: {exc}"
            if stack_gone and isinstance(exc, InfraError):
                journal.mark(entry.id, "rolled_back", f"stack gone: {why}")
                outcomes.append(Outcome(entry=entry, result="gone_with_stack", why=why))
            else:
                journal.mark(entry.id, "rollback_failed", why)
                outcomes.append(Outcome(entry=entry, result="failed", why=why))
    return outcomes


def rollback_journal(journal: Journal, only: set[int] | None = None) -> list[str]:
    """Undo outstanding entries, newest first; descriptions of those that could not be undone."""
    chosen = [e for e in journal.outstanding() if only is None or e.id in only]
    return [f"{o.entry.fault} on {o.entry.target}: {o.why}"
            for o in _undo_newest_first(journal, chosen) if o.result == "failed"]


def verify_gone(journal: Journal) -> list[str]:
    """Re-read each component: what of this run's faults is still in place (ideally nothing)."""
    leftovers = []
    for entry in journal.entries():
        try:
            what = entry.undo.remaining()
        except Exception as exc:  # noqa: BLE001 - an answer that makes no sense verifies nothing
            what = f"cannot verify: {exc}"
        if what:
            leftovers.append(f"{entry.fault}: {what}")
    return leftovers


def reconcile_run(run_dir: Path, say: Callable[[str], None], keep_stack: bool = False) -> list[str]:
    """Roll back a run directory's outstanding faults, then (unless keep_stack) stop its stack."""
    done = []
    state = StackState.load(run_dir) if (run_dir / STATE_FILE).exists() else None
    stack_alive = state is not None and state.status in ("starting", "up", "stopping")
    if (run_dir / JOURNAL_FILE).exists():
        journal = Journal(run_dir)
        try:
            outcomes = _undo_newest_first(journal, journal.outstanding(), "reconciled", stack_gone=not stack_alive)
            done = [o.describe() for o in outcomes]
            if done:
                journal.event(Reconciled(actions=done))
        finally:
            journal.close()
    if state is not None and stack_alive and not keep_stack:  # alive: there is a state
        backends.get(state.backend, say=say).down(state)
        done.append(f"stopped leftover stack {state.name!r}")
    for line in done:
        say(f"reconcile {run_dir.name}: {line}")
    return done


OWNER_FILE = "owner.json"


def claim(run_dir: Path) -> None:
    """Mark this process as the run directory's owner, so concurrent commands leave it alone."""
    me = psutil.Process()
    owner = {"pid": me.pid, "create_time": me.create_time(), "started": started_s(me.pid)}
    (run_dir / OWNER_FILE).write_text(json.dumps(owner))


def owned_by_live_process(run_dir: Path) -> bool:
    """True when the process that owns the run directory still runs (then it is not a leftover)."""
    try:
        owner = json.loads((run_dir / OWNER_FILE).read_text())
        pid = int(owner["pid"])
        return (same_process(pid, owner.get("started"), float(owner["create_time"])) and pid != os.getpid()
                and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except (OSError, ValueError, KeyError, psutil.NoSuchProcess):
        return False


def needs_reconcile(run_dir: Path) -> bool:
    """True when a run directory has outstanding faults or a stack still marked running."""
    if owned_by_live_process(run_dir):
        return False
    if (run_dir / STATE_FILE).exists():
        try:
            if StackState.load(run_dir).status in ("starting", "up", "stopping"):
                return True
        except Exception:  # noqa: BLE001 - an unreadable state file is not ours to judge here
            pass
    if (run_dir / JOURNAL_FILE).exists():
        journal = Journal(run_dir)
        try:
            return bool(journal.outstanding())
        finally:
            journal.close()
    return False


def reconcile_all(out_dir: Path, say: Callable[[str], None]) -> list[str]:
    """Reconcile every run directory under out_dir/runs that needs it, and sweep orphan containers."""
    done = []
    for run_dir in listed(out_dir, RUNS):
        if needs_reconcile(run_dir):
            done += reconcile_run(run_dir, say)
    return done + sweep_orphans(say)


def reconcile_stacks(out_dir: Path, say: Callable[[str], None]) -> list[str]:
    """Roll back faults injected by hand (`chaosgate inject`) on stacks under out_dir/stacks; the
    stacks themselves stay up: `chaosgate stack down` is how a person ends them."""
    done = []
    for run_dir in listed(out_dir, STACKS):
        if (run_dir / JOURNAL_FILE).exists() and not owned_by_live_process(run_dir):
            journal = Journal(run_dir)
            try:
                pending = bool(journal.outstanding())
            finally:
                journal.close()
            if pending:
                done += reconcile_run(run_dir, say, keep_stack=True)
    return done


def sweep_orphans(say: Callable[[str], None]) -> list[str]:
    """Stop local processes, and remove containers and networks, of run directories that no
    longer exist.

    With its directory gone (a CI workspace wiped after a SIGKILL, a test's temporary folder),
    no journal or state can ever lead a command back to them: the mark they carry (a variable in
    a process's environment, a container's label) is the only trace left.
    """
    from chaos.util.procs import stop_orphans

    done = stop_orphans()
    for line in done:
        say(f"reconcile: {line}")
    return done + _sweep_containers(say)


def _sweep_containers(say: Callable[[str], None]) -> list[str]:
    from chaos.components import containers

    if not Path("/var/run/docker.sock").exists() and "DOCKER_HOST" not in os.environ:
        return []  # no engine on this machine: do not pay for the SDK's import
    try:
        client = containers.connect(timeout_s=5)
    except InfraError:
        return []
    mine, local = containers.machine_id(), containers.remote_host(containers.current_engine()) is None

    def ours(labels: dict[str, str]) -> bool:
        # An engine shared by several machines holds their stacks too: their run directories are
        # not on this one, and they are not orphans.
        host = labels.get(containers.LABEL_HOST)
        return host == mine or (host is None and local)

    done = []
    # ignore_removed: another command may remove a listed container before the SDK inspects it (CI, 2026-12-04).
    for container in client.containers.list(all=True, filters={"label": containers.LABEL_RUN}, ignore_removed=True):
        run_dir = container.labels.get(containers.LABEL_RUN, "")
        if run_dir and not Path(run_dir).exists() and ours(container.labels):
            containers.stop_and_remove(client, container, 5)
            done.append(f"removed orphan container {container.name} (its run directory {run_dir} is gone)")
    for network in client.networks.list(filters={"label": containers.LABEL_RUN}):
        labels = network.attrs.get("Labels") or {}
        run_dir = labels.get(containers.LABEL_RUN, "")
        if run_dir and not Path(run_dir).exists() and ours(labels):
            containers.remove_network(client, network.name)
            done.append(f"removed orphan network {network.name}")
    for line in done:
        say(f"reconcile: {line}")
    return done
