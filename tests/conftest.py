"""Shared helpers: run the real `chaosgate` command, and check that nothing was left behind."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parent.parent
STACKS = Path(__file__).resolve().parent / "stacks"
#: Seconds any chaosgate command in a test may take before the test fails (not a speed limit).
COMMAND_DEADLINE_S = 300


@dataclass
class Result:
    code: int
    out: str
    err: str


def chaosgate(*args: str, cwd: Path | None = None, timeout: float = COMMAND_DEADLINE_S,
              env: dict[str, str] | None = None) -> Result:
    """Run `python -m chaos ARGS` as a user would (with `env` added), bounded by a deadline."""
    proc = subprocess.run([sys.executable, "-m", "chaos", *args], cwd=cwd or ROOT, capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL,
                          env={**os.environ, **env} if env else None)
    return Result(proc.returncode, proc.stdout, proc.stderr)


def stack_state(out: Path) -> dict:
    """The newest stack.json under an --out folder."""
    states = sorted(out.glob("stacks/*/stack.json"))
    assert states, f"no stack state under {out}"
    return json.loads(states[-1].read_text())


def recorded_pids(state: dict) -> list[int]:
    """Every pid a stack state records (services and toxiproxy)."""
    pids = [s["process"]["pid"] for s in state["services"].values() if s.get("process")]
    if state.get("toxiproxy"):
        pids.append(state["toxiproxy"]["pid"])
    return pids


def group_pids(pgids: list[int]) -> list[int]:
    """Live, non-zombie processes in any of these process groups."""
    found = []
    for p in psutil.process_iter(["pid", "status"]):
        try:
            if os.getpgid(p.pid) in pgids and p.info["status"] != psutil.STATUS_ZOMBIE:
                found.append(p.pid)
        except (ProcessLookupError, psutil.NoSuchProcess):
            pass
    return found


def live(pids: list[int]) -> list[int]:
    """The pids among these that still run (zombies count as gone)."""
    alive = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.append(pid)
        except psutil.NoSuchProcess:
            pass
    return alive


@pytest.fixture
def out(tmp_path: Path) -> Path:
    """A fresh --out folder for run directories."""
    return tmp_path / "reports"


def require_docker() -> object:
    """A Docker client; the test is skipped where no engine can run, and fails in CI (where one must)."""
    from chaos.components import containers
    from chaos.errors import InfraError

    try:
        return containers.connect()
    except InfraError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the Docker tests, and no engine answers: {exc}")
        pytest.skip(f"no Docker engine here: {exc}")


def containers_of(client, run_dir: str) -> list:
    """Containers (any state) labelled with this run directory."""
    from chaos.components import containers

    return containers.labelled(client, str(Path(run_dir).resolve()))


# The run-stack experiments (test_gate, test_measurement, runstack/test_incident*,
# test_capacity_fill) carry `xdist_group("runstack")`: their figures (start delays, success
# ratios, a gate's A/A comparison) depend on the machine's spare CPU, so under `make test`'s three
# xdist workers they share one worker, one after another, while the other two run the rest (most
# of which waits on phases: a third worker added 3 % of test time and took the suite from 28.4 to
# 23.5 minutes on 2 cores, 2026-12-03, with the run-stack lane the longest).
# xdist schedules the largest group first, so that lane starts at once.

#: How this suite puts a module in a lane: a module-level mark (see the comment above).
MODULE_GROUP = re.compile(r"^pytestmark = .*pytest\.mark\.xdist_group\(", re.M)


def pytest_xdist_node_collection_finished(node, ids: list[str]) -> None:
    """Stop before any test when `--dist loadgroup` lost the groups: the lanes above would silently
    mix (pytest 9.2 with pytest-xdist 3.8 does that, pytest-xdist#1386; pyproject.toml keeps pytest below it)."""
    if node.config.option.dist != "loadgroup":
        return
    grouped: dict[str, bool] = {}
    for nodeid in ids:
        module = nodeid.split("::")[0]
        if module not in grouped:
            path = Path(node.config.rootpath) / module
            grouped[module] = path.is_file() and MODULE_GROUP.search(path.read_text()) is not None
        if grouped[module] and "@" not in nodeid:
            pytest.exit(f"--dist loadgroup did not group {nodeid}: pytest {pytest.__version__} and this pytest-xdist "
                        "do not work together (pytest-xdist#1386); see pyproject.toml", returncode=4)


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium (installed by scripts/setup), one per test module."""
    playwright = pytest.importorskip("playwright.sync_api")
    from tests.browser import CHROMIUM, FLAGS

    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is installed by scripts/setup; it is missing")
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()
