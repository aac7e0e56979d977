"""A recorded process is known by its pid and its start since boot, which a wall-clock step cannot
move: psutil's create_time adds a boot time read from the clock at each call, so an NTP step once
made a live locust look like one that had exited (the gate then judged nothing)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import psutil
import pytest

from chaos.run import reconcile
from chaos.util.procs import how_it_ended, is_alive, spawn, started_s, stop_group


@pytest.fixture
def sleeper(tmp_path: Path):
    record = spawn("sleeper", [sys.executable, "-c", "import time; time.sleep(60)"], {}, tmp_path / "logs" / "s.log")
    yield record
    stop_group(record, grace_s=2)


def step_the_clock(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """The system clock stepped: /proc/stat's btime moves, and with it psutil's create_time."""
    from psutil import _pslinux

    real = _pslinux.boot_time
    monkeypatch.setattr(_pslinux, "boot_time", lambda: real() + seconds)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc is Linux's")
def test_a_live_process_stays_alive_when_the_clock_steps(sleeper, monkeypatch: pytest.MonkeyPatch) -> None:
    assert sleeper.started is not None and is_alive(sleeper)
    step_the_clock(monkeypatch, 1.0)
    assert abs(psutil.Process(sleeper.pid).create_time() - sleeper.create_time) >= 0.99, "the step moved psutil's"
    assert is_alive(sleeper) and how_it_ended(sleeper) == "still running"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc is Linux's")
def test_a_reused_pid_is_not_the_recorded_process(sleeper) -> None:
    other = sleeper.model_copy(update={"started": sleeper.started - 5.0})  # type: ignore[operator]
    assert started_s(sleeper.pid) == sleeper.started
    assert not is_alive(other)
    stop_group(sleeper, grace_s=2)
    assert not is_alive(sleeper) and how_it_ended(sleeper) == "killed by SIGTERM"


def test_a_record_from_before_the_field_is_still_matched_by_its_wall_clock_start(sleeper) -> None:
    old = sleeper.model_copy(update={"started": None})
    assert is_alive(old)
    assert not is_alive(old.model_copy(update={"create_time": old.create_time - 5.0}))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc is Linux's")
def test_a_run_directory_owner_survives_a_clock_step(tmp_path: Path, sleeper, monkeypatch: pytest.MonkeyPatch) -> None:
    # Written as `claim` writes it, for another live process (a command never counts itself).
    owner = {"pid": sleeper.pid, "create_time": sleeper.create_time, "started": sleeper.started}
    (tmp_path / reconcile.OWNER_FILE).write_text(json.dumps(owner))
    step_the_clock(monkeypatch, -1.0)
    assert reconcile.owned_by_live_process(tmp_path)
    stop_group(sleeper, grace_s=2)
    assert not reconcile.owned_by_live_process(tmp_path)
