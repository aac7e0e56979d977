"""Game days by hand on a running stack: `inject` and `heal` act on the real components, a
recorded session (`chaosgate load`) measures them and becomes a report and a replayable
experiment, a SIGKILL between inject and heal is reconciled by `chaosgate rollback`, and
`run --live` draws its console under a pseudo-terminal and rolls back on Ctrl-C."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from chaos.backends.state import StackState
from chaos.run.journal import Journal
from tests.chaos.engine_helpers import assert_nothing_left, assert_stack_clean_while_up, only_run_dir, result
from tests.conftest import ROOT, STACKS, chaosgate
from tests.runstack.helpers import wait_until

MINI = STACKS / "mini"
#: One worker for the module: its tests share one started stack (the module's fixture).
pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("gameday")]
COMPOSE = MINI / "docker-compose.yml"
LATENCY = "{type: network.latency, link: front -> echo, latency_ms: 400}"


@pytest.fixture(scope="module")
def game_day(tmp_path_factory: pytest.TempPathFactory):
    """One mini stack up for the module's game-day tests (each leaves it clean, and checks that)."""
    out = tmp_path_factory.mktemp("gameday") / "reports"
    up = chaosgate("stack", "up", "-f", str(COMPOSE), "--out", str(out))
    assert up.code == 0, up.err
    state_dir = next(out.glob("stacks/*"))
    try:
        yield out, state_dir
    finally:
        down = chaosgate("stack", "down", "-f", str(COMPOSE), "--out", str(out))
        assert down.code == 0, down.err


def via_echo_s(state_dir: Path) -> float:
    """Seconds for one request front -> echo (through the link the latency fault acts on)."""
    port = StackState.load(state_dir).services["front"].port
    t0 = time.monotonic()
    assert requests.get(f"http://127.0.0.1:{port}/via-echo", timeout=10).status_code == 200
    return time.monotonic() - t0


def outstanding(state_dir: Path) -> list[str]:
    journal = Journal(state_dir)
    try:
        return [e.fault for e in journal.outstanding()]
    finally:
        journal.close()


def test_inject_takes_effect_and_heal_removes_it(game_day) -> None:
    out, state_dir = game_day
    res = chaosgate("inject", LATENCY, "--out", str(out))
    assert res.code == 0, res.err
    ids = res.out.split()
    assert ids and all(i.isdigit() for i in ids), res.out
    assert via_echo_s(state_dir) >= 0.4, "the hand-injected latency acts on the link"
    assert outstanding(state_dir) == ["network.latency"]
    listed = chaosgate("heal", "--out", str(out))
    assert listed.code == 0 and f"#{ids[0]} network.latency" in listed.out, listed
    healed = chaosgate("heal", *ids, "--out", str(out))
    assert healed.code == 0, healed.err
    assert outstanding(state_dir) == []
    assert_stack_clean_while_up(state_dir)
    assert via_echo_s(state_dir) < 0.4
    again = chaosgate("heal", ids[0], "--out", str(out))
    assert again.code == 3 and "no outstanding fault with id" in again.err, again


def test_a_bad_fault_spec_is_refused_with_its_field_and_nothing_is_injected(game_day) -> None:
    out, state_dir = game_day
    cases = {
        "{type: network.latency, link: front -> echo, latency_ms: -5}": "latency_ms",
        "{type: network.latency, link: nowhere -> echo, latency_ms: 5}": "link",
        "{type: no.such.fault}": "unknown fault type",
        "[not, a, mapping]": "a fault is a mapping",
        # As `validate` says it of an experiment: the allowed keys, and a broker fault on a non-broker.
        "{type: network.latency, link: front -> echo, latncy_ms: 5}": "did you mean 'latency_ms'? (allowed: type,",
        "{type: broker.hold_connections, service: echo, count: 3}": "service 'echo' is not a broker",
    }
    for spec, expected in cases.items():
        res = chaosgate("inject", spec, "--out", str(out))
        assert res.code == 3 and expected in res.err and "command line" in res.err, (spec, res.err)
        assert "Traceback" not in res.err
    assert outstanding(state_dir) == []
    assert_stack_clean_while_up(state_dir)


def test_sigkill_between_inject_and_heal_then_rollback_leaves_nothing(game_day) -> None:
    out, state_dir = game_day
    assert chaosgate("inject", LATENCY, "--out", str(out)).code == 0
    # A fault that lives in its injecting process (held AMQP connections), killed without a chance to heal.
    holder = subprocess.Popen([sys.executable, "-m", "chaos", "inject", "{type: broker.hold_connections, count: 3}",
                               "--out", str(out)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert wait_until(lambda: outstanding(state_dir).count("broker.hold_connections") == 1, 60)
    holder.send_signal(signal.SIGKILL)
    holder.communicate(timeout=30)
    assert sorted(outstanding(state_dir)) == ["broker.hold_connections", "network.latency"]
    res = chaosgate("rollback", "--out", str(out))
    assert res.code == 0, res.err
    assert outstanding(state_dir) == []
    assert_stack_clean_while_up(state_dir)
    assert StackState.load(state_dir).status == "up", "rollback heals a game-day stack, it does not stop it"


def test_a_recorded_session_measures_the_hand_fault_and_replays_as_an_experiment(game_day, tmp_path: Path) -> None:
    out, state_dir = game_day
    surfaces = tmp_path / "surfaces.yaml"
    surfaces.write_text("front:\n  services: [front]\n  slis:\n"
                        "    p95_ms: {kind: gauge, source: load, metric: locust_response_p95_ms, agg: max, "
                        "better: lower, tolerance: 100}\n")
    session = subprocess.Popen([sys.executable, "-m", "chaos", "load", str(MINI / "load.py"), "--target", "front",
                                "--users", "2", "--surfaces", str(surfaces), "--duration", "2m", "--out", str(out)],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_until(lambda: list(out.glob("runs/*gameday*/timeline.db")), 60), "the session started"
        time.sleep(8)
        ids = chaosgate("inject", LATENCY, "--out", str(out)).out.split()
        time.sleep(8)
        assert chaosgate("heal", *ids, "--out", str(out)).code == 0
        time.sleep(6)
        session.send_signal(signal.SIGINT)
        sout, serr = session.communicate(timeout=120)
    finally:
        session.kill()
    assert session.returncode == 0, serr[-3000:]
    assert "Traceback" not in serr
    run_dir = next(out.glob("runs/*gameday*"))
    res = result(run_dir)
    assert list(res["phases"]) == ["baseline", "fault", "recovery"], res["phases"]
    assert [f["type"] for f in res["faults"]] == ["network.latency"]
    p95 = res["slis"]["front"]["p95_ms"]
    assert p95["fault"]["value"] >= 300 > p95["baseline"]["value"], p95
    assert res["blast_radius"]["surfaces"], res["blast_radius"]
    assert (run_dir / "report.html").exists() and f"report: {run_dir / 'report.html'}" in sout
    replay = chaosgate("validate", str(run_dir / "experiment.yaml"))
    assert replay.code == 0, replay.err
    assert_stack_clean_while_up(state_dir)


def _read_until(fd: int, proc: subprocess.Popen, wanted: list[str], seconds: float) -> str:
    seen, end = b"", time.monotonic() + seconds
    while time.monotonic() < end and proc.poll() is None:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                seen += os.read(fd, 65536)
            except OSError:
                break
        text = seen.decode(errors="replace")
        if all(w in text for w in wanted):
            return text
    return seen.decode(errors="replace")


def test_live_console_renders_under_a_terminal_and_ctrl_c_rolls_back(out: Path) -> None:
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "chaos", "run", str(MINI / "experiment.yaml"), "--live",
                             "--out", str(out)], cwd=ROOT, stdin=slave, stdout=slave, stderr=slave,
                            start_new_session=True, env={**os.environ, "COLUMNS": "140", "TERM": "xterm"})
    os.close(slave)
    try:
        text = _read_until(master, proc, ["phase", "fault", "faults active: network.latency", "▁"], 120)
        assert "faults active: network.latency" in text and "last 48s" in text, text[-3000:]
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C on the terminal sends to its foreground group
        text += _read_until(master, proc, ["report:"], 120)
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    assert proc.returncode == 128 + signal.SIGINT, text[-3000:]
    run_dir = only_run_dir(out)
    assert result(run_dir)["status"] == "aborted"
    assert_nothing_left(run_dir)
    assert (run_dir / "report.html").exists() and "report:" in text
    assert json.loads((run_dir / "result.json").read_text())["rollback"]["failures"] == []
