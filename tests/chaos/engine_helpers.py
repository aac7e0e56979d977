"""Check, against the real components, that a run left nothing behind."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import psutil
import requests

from chaos.backends.state import StackState
from chaos.components.rabbitmq import ManagementClient
from tests.conftest import ROOT, containers_of, group_pids, live, require_docker
from tests.runstack.helpers import wait_until


def reconciled_of(err: str, out: Path) -> list[str]:
    """The lines of a `chaosgate rollback` that act on something under `out`. The orphan sweep is
    machine-wide: a test beside this one may have left orphans on purpose (test_hostile_input
    wipes a killed run's workspace), and a pass here may stop them; only what is ours counts."""
    mine = [str(out), *(p.name for area in ("runs", "stacks") for p in (out / area).glob("*"))]
    return [line for line in err.splitlines() if "reconcile" in line and any(m in line for m in mine)]


def only_run_dir(out: Path) -> Path:
    runs = sorted((out / "runs").glob("*"))
    assert len(runs) == 1, runs
    return runs[0]


def journal_states(run_dir: Path) -> list[str]:
    """Each fault's state; none while the journal is still being created (a poller can be early)."""
    with sqlite3.connect(run_dir / "journal.db") as db:
        try:
            return [r[0] for r in db.execute("SELECT state FROM faults")]
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return []
            raise


def start_run_until_injected(experiment: Path, out: Path, count: int) -> subprocess.Popen:
    """`chaosgate run` in the background, returned once `count` of its faults are injected."""
    proc = subprocess.Popen([sys.executable, "-m", "chaos", "run", str(experiment), "--out", str(out)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        runs = list((out / "runs").glob("*/journal.db"))
        if runs and journal_states(runs[0].parent).count("injected") >= count:
            return proc
        time.sleep(0.1)
    proc.kill()
    raise AssertionError(f"{count} faults were never injected")


def stack_pids(run_dir: Path) -> list[int]:
    state = StackState.load(run_dir)
    pids = [s.process.pid for s in state.services.values() if s.process]
    return pids + ([state.toxiproxy.pid] if state.toxiproxy else [])


def assert_stack_clean_while_up(run_dir: Path) -> None:
    """The stack still runs: no toxic, no disabled proxy, no held connection, no lowered limit, no paused process."""
    state = StackState.load(run_dir)
    proxies = requests.get(f"{state.toxiproxy_url}/proxies", timeout=5).json()
    assert all(p["toxics"] == [] and p["enabled"] for p in proxies.values()), proxies
    mgmt = ManagementClient(f"http://127.0.0.1:{state.services['broker'].ports[15672]}")
    assert mgmt.connection_limit() is None
    assert wait_until(lambda: not any(c["client_properties"].get("connection_name", "").startswith("chaosgate-hold")
                                      for c in mgmt.connections()), 15)
    for svc in state.services.values():
        if svc.container_id:
            assert require_docker().containers.get(svc.container_id).status == "running", f"{svc.name} not running"
            continue
        for pid in group_pids([svc.process.pid]):
            assert psutil.Process(pid).status() != psutil.STATUS_STOPPED, f"{svc.name} still paused"


def assert_nothing_left(run_dir: Path) -> None:
    """The stack is gone — every process dead, or every container and the network removed — and
    the journal says every fault was rolled back."""
    state = StackState.load(run_dir)
    if state.backend == "docker":
        client = require_docker()
        assert containers_of(client, run_dir) == []
        assert not state.network or client.networks.list(names=[state.network]) == []
    pids = stack_pids(run_dir)
    assert live(pids) == [] and group_pids(pids) == []
    assert all(s == "rolled_back" for s in journal_states(run_dir)), journal_states(run_dir)


def result(run_dir: Path) -> dict:
    return json.loads((run_dir / "result.json").read_text())


def mini_gate_policy(folder: Path, criteria: str = "") -> Path:
    """A gate policy on the mini stack (its experiment with a 6 s baseline): one critical
    broker-connections comparison, then `criteria` (YAML list items) after it."""
    from tests.conftest import STACKS

    mini = STACKS / "mini"
    (folder / "experiment.yaml").write_text((mini / "experiment.yaml").read_text()
                                            .replace("stack: docker-compose.yml", f"stack: {mini / 'docker-compose.yml'}")
                                            .replace("baseline: 2s", "baseline: 6s"))
    policy = folder / "gate.yaml"
    policy.write_text("name: mini-gate\nexperiments: [experiment.yaml]\nwindow: 1s\ncriteria:\n"
                      "  - {name: broker connections, sli: broker.connections, vs_baseline: {floor: 5}, critical: true,"
                      " min_samples: 3}\n" + criteria)
    return policy
