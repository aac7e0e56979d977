"""`chaosgate run` end to end on the mini stack: phases, faults, rollback, result, dry run,
inconclusive baselines, stop conditions, the deadline, and reconciliation after SIGKILL."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.chaos.engine_helpers import (
    assert_nothing_left,
    assert_stack_clean_while_up,
    journal_states,
    only_run_dir,
    result,
    start_run_until_injected,
)
from tests.conftest import STACKS, chaosgate

pytestmark = pytest.mark.integration  # starts a stack, a server or a browser

EXPERIMENT = STACKS / "mini" / "experiment.yaml"


def variant(tmp_path: Path, **replace: str) -> Path:
    text = EXPERIMENT.read_text().replace("stack: docker-compose.yml", f"stack: {STACKS / 'mini' / 'docker-compose.yml'}")
    for old, new in replace.items():
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / "experiment.yaml"
    path.write_text(text)
    return path


def test_run_injects_every_fault_rolls_back_and_writes_result(out: Path) -> None:
    run = chaosgate("run", str(EXPERIMENT), "--out", str(out))
    assert run.code == 0, run.err
    run_dir = only_run_dir(out)
    res = result(run_dir)
    assert res["status"] == "completed"
    assert [f["type"] for f in res["faults"]] == ["network.latency", "network.timeout", "network.down",
                                                  "broker.connection_limit", "broker.hold_connections", "process.pause"]
    assert all(f["injected_at"] and f["removed_at"] >= f["injected_at"] for f in res["faults"])
    down = next(f for f in res["faults"] if f["type"] == "network.down")
    assert 1.5 <= down["removed_at"] - down["injected_at"] <= 10, "down lasted its declared 2 s (not the phase)"
    assert set(res["phases"]) == {"warmup", "baseline", "fault", "recovery"}
    assert res["rollback"]["failures"] == [] and res["rollback"]["leftovers"] == []
    landed = {f["type"]: f["landing"] for f in res["faults"]}
    assert all(lan["landed"] is True and lan["share"] == 1.0 for lan in landed.values()), landed
    assert "calls held open" in landed["network.timeout"]["units"][0]["evidence"]
    assert landed["broker.hold_connections"]["units"][0]["evidence"] == "3 of 3 connections held open"
    held = res["slis"]["broker"]["connections"]
    assert held["baseline"]["value"] == 0 and held["fault"]["value"] == 3, "the timeline saw the held connections"
    assert_nothing_left(run_dir)
    assert (run_dir / "logs" / "echo.log").exists() and (run_dir / "timeline.db").exists()
    assert "mini-faults: completed" in run.out and "blast radius" in run.out


def test_dry_run_prints_the_plan_and_touches_nothing(out: Path) -> None:
    run = chaosgate("run", "--dry-run", str(EXPERIMENT), "--out", str(out))
    assert run.code == 0, run.err
    assert "4.5s..phase end  network.timeout on front->echo" in run.out
    assert "2s..4s  network.down on front->echo" in run.out
    assert "nothing was started or injected" in run.out
    assert not out.exists()


def test_a_link_fault_no_traffic_crosses_makes_the_run_inconclusive(tmp_path: Path, out: Path) -> None:
    path = variant(tmp_path, **{'variables: {FRONT_HEARTBEAT_S: "0.2"}': "variables: {}"})
    run = chaosgate("run", str(path), "--out", str(out))
    assert run.code == 2, run.err
    res = result(only_run_dir(out))
    assert res["status"] == "inconclusive"
    assert res["reason"].startswith("fault never landed: network.latency on front->echo: front->echo: no traffic "
                                    "crossed front->echo during the fault"), res["reason"]
    assert res["blast_radius"]["contained"] is None and len(res["blast_radius"]["not_landed"]) == 3
    assert [f["landing"]["landed"] for f in res["faults"]] == [False, False, False, True, True, True]
    assert_nothing_left(only_run_dir(out))


def test_unsteady_baseline_is_inconclusive_and_injects_nothing(tmp_path: Path, out: Path) -> None:
    path = variant(tmp_path, **{"expected_radius: []": "expected_radius: []\nsteady_state:\n"
                                "  - {sli: broker.connections, min: 1}"})
    run = chaosgate("run", str(path), "--out", str(out))
    assert run.code == 2, run.err
    res = result(only_run_dir(out))
    assert res["status"] == "inconclusive" and "steady state did not hold" in res["reason"]
    assert all(f["injected_at"] is None for f in res["faults"]) and journal_states(only_run_dir(out)) == []
    assert_nothing_left(only_run_dir(out))


def test_stop_condition_aborts_and_rolls_back(tmp_path: Path, out: Path) -> None:
    path = variant(tmp_path, **{"expected_radius: []": "expected_radius: []\nstop_conditions:\n"
                                "  - {sli: broker.connections, above: 2, for: 2s}"})
    run = chaosgate("run", str(path), "--out", str(out))
    assert run.code == 1, run.err
    res = result(only_run_dir(out))
    assert res["status"] == "aborted" and "stop condition: broker.connections" in res["reason"]
    assert "recovery" not in res["phases"]
    assert "fault" in res["phases"], "the cut-short fault phase is recorded up to the abort"
    assert res["blast_radius"] is not None, "the radius up to the abort is reported"
    assert_nothing_left(only_run_dir(out))


def test_hung_stack_still_ends_by_the_deadline(tmp_path: Path, out: Path) -> None:
    compose = tmp_path / "docker-compose.yml"
    compose.write_text((STACKS / "mini" / "docker-compose.yml").read_text()
                       .replace("healthcheck: {start_period: 3s", "healthcheck: {start_period: 900s")
                       .replace("[python, app.py]", f"[python, {STACKS / 'mini' / 'app.py'}]"))
    path = variant(tmp_path, **{f"stack: {STACKS / 'mini' / 'docker-compose.yml'}": f"stack: {compose}",
                                "deadline: 2m": "deadline: 20s"})
    run = chaosgate("run", str(path), "--out", str(out), "--set", "ECHO_NEVER_HEALTHY=1")
    assert run.code == 1, run.err
    res = result(only_run_dir(out))
    assert res["status"] == "aborted" and "deadline of 20s reached" in res["reason"]
    assert_nothing_left(only_run_dir(out))


def test_after_sigkill_rollback_reconciles_and_the_next_run_says_so(out: Path) -> None:
    proc = start_run_until_injected(EXPERIMENT, out, 4)  # up to process.pause, 1.5 s into the fault
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    run_dir = only_run_dir(out)
    assert "injected" in journal_states(run_dir), "the faults outlived chaosgate"
    keep = chaosgate("rollback", str(run_dir), "--keep-stack")
    assert keep.code == 0, keep.err
    assert "rolled back process.pause on echo" in keep.err
    assert_stack_clean_while_up(run_dir)
    # The next run finds the leftover stack, stops it, and says so before starting its own.
    nxt = chaosgate("run", str(EXPERIMENT), "--out", str(out))
    assert nxt.code == 0, nxt.err
    assert f"reconcile {run_dir.name}: stopped leftover stack 'mini'" in nxt.err
    assert_nothing_left(run_dir)
    newest = sorted((out / "runs").glob("*"))[-1]
    assert result(newest)["reconciled_before"] == ["stopped leftover stack 'mini'"]


def test_a_measurement_that_raises_still_takes_the_stack_down_and_writes_the_result(
        out: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    # A bug in measurement (here: one planted) comes after every fault was injected; the end of
    # the run must still roll back, stop every process and record why it failed. Run through the
    # library API, whose progress goes to the `chaos` logger.
    import chaos
    from chaos.run import engine

    def broken_measure(*_args: object) -> None:
        raise ZeroDivisionError("planted measurement bug")

    monkeypatch.setattr(engine, "measure", broken_measure)
    with caplog.at_level("INFO", logger="chaos"):
        res = chaos.run_experiment(EXPERIMENT, out=out)
    assert any("injected network.latency" in r.getMessage() for r in caplog.records), caplog.text
    assert any("error during measurement" in r.getMessage() for r in caplog.records), caplog.text
    run_dir = only_run_dir(out)
    assert res.exit_code == 3 and (run_dir / "report.html").exists(), "a failed run still has its report"
    stored = result(run_dir)
    assert res.status == stored["status"] == "failed"
    assert "measurement" in stored["reason"] and "planted measurement bug" in stored["reason"], stored["reason"]
    assert all(f["injected_at"] for f in stored["faults"]), "the faults were injected before measurement"
    assert stored["rollback"]["failures"] == [] and stored["rollback"]["leftovers"] == []
    assert "ZeroDivisionError: planted measurement bug" in (run_dir / "engine-error.txt").read_text()
    assert_nothing_left(run_dir)


def test_a_recovery_until_recovered_ends_once_every_surface_is_back(tmp_path: Path, out: Path) -> None:
    # Three connections held, then let go: every surface is back at once, so the 40 s recovery
    # ends after the few healthy windows that show it, not at its bound.
    path = tmp_path / "recovery.yaml"
    path.write_text(EXPERIMENT.read_text().split("faults:")[0].replace(
        "stack: docker-compose.yml", f"stack: {STACKS / 'mini' / 'docker-compose.yml'}").replace(
        "phases: {warmup: 1s, baseline: 2s, fault: 7s, recovery: 1s}",
        "phases: {warmup: 1s, baseline: 3s, fault: 3s, recovery: 40s, until_recovered: true}")
        + "faults:\n  - {type: broker.hold_connections, count: 3}\n"
        + "surfaces:" + EXPERIMENT.read_text().split("surfaces:")[1])
    run = chaosgate("run", str(path), "--out", str(out))
    assert run.code == 0, run.err
    res = result(only_run_dir(out))
    t0, t1 = res["phases"]["recovery"]
    # No earlier than three 5-s windows wholly after the heal can show it; well before the bound.
    assert 7.0 <= t1 - t0 < 39.0, (t0, t1)
    assert "every surface back" in run.err and "ending the phase" in run.err
    assert res["rollback"]["failures"] == [] and res["faults"][0]["removed_at"] <= t0
