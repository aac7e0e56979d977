"""The interrupt matrix: SIGINT, SIGTERM and SIGKILL at 21 seeded random points of a run (15 on
the local backend, 6 on the docker backend) — stack start, every phase, cleanup. Afterwards (and
after `chaosgate rollback` for SIGKILL) nothing remains: checked against toxiproxy's API,
RabbitMQ's management API, the process table, and containers and networks by label."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chaos.backends.state import StackState
from tests.chaos.engine_helpers import assert_nothing_left, assert_stack_clean_while_up, reconciled_of
from tests.conftest import ROOT, STACKS, chaosgate, require_docker

pytestmark = pytest.mark.integration  # starts a stack, a server or a browser

EXPERIMENT = STACKS / "mini" / "experiment.yaml"
SIGNALS = [signal.SIGINT, signal.SIGTERM, signal.SIGKILL]
POINTS = 15
#: Seconds after the run directory appears: covers stack start (~9 s), phases (11 s) and cleanup.
LATEST_POINT_S = 22.0


#: Points on the docker backend (containers, a toxiproxy container, a private network).
DOCKER_POINTS = 6


@pytest.mark.parametrize("backend,point", [("local", p) for p in range(POINTS)]
                         + [pytest.param("docker", p, marks=pytest.mark.docker) for p in range(DOCKER_POINTS)])
def test_interrupt_at_a_random_point_leaves_nothing(backend: str, point: int, out: Path) -> None:
    if backend == "docker":
        require_docker()
    sig = SIGNALS[point % 3]
    delay = random.Random(f"{backend}{point}" if backend != "local" else point).uniform(0.0, LATEST_POINT_S)
    proc = subprocess.Popen([sys.executable, "-m", "chaos", "run", str(EXPERIMENT), "--out", str(out),
                             "--backend", backend], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not list((out / "runs").glob("*")) and time.monotonic() < deadline:
        time.sleep(0.05)
    run_dirs = list((out / "runs").glob("*"))
    assert run_dirs, "the run started"
    run_dir = run_dirs[0]
    time.sleep(delay)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=180)
    assert "Traceback" not in err, err
    has_stack = (run_dir / "stack.json").exists()
    if sig == signal.SIGKILL:
        if has_stack and StackState.load(run_dir).status == "up":
            keep = chaosgate("rollback", str(run_dir), "--keep-stack")
            assert keep.code == 0, keep.err
            assert_stack_clean_while_up(run_dir)
        full = chaosgate("rollback", str(run_dir))
        assert full.code == 0, full.err
    else:
        assert proc.returncode in (128 + sig, 0, 1, 2), (proc.returncode, err)
    if has_stack:
        assert_nothing_left(run_dir)
    again = chaosgate("rollback", "--out", str(out))
    assert again.code == 0 and reconciled_of(again.err, out) == [], \
        f"nothing of this run was left for a second pass: {again.err}"
