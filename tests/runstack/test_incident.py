"""The reference run stack fails the way the February 2026 incident did, and its mitigations work.

Real RabbitMQ, real toxiproxy links, real processes; every symptom is read from metrics or APIs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from chaos.backends.local import LocalBackend
from runstack.traffic import drive
from tests.runstack.helpers import broker, late_starts, metrics, runs_by_reason, runstack, url, value, wait_until

# Run-stack experiments under load: one xdist lane for all of them (see tests/conftest.py).
pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("runstack")]

RUNS = "runstack_runs_total"
INTERNAL = {"status": "failed", "reason": "Internal error"}
PUBLICATIONS = {"status": "failed", "reason": "Error retrieving publications"}
QUEUE_TIMEOUT = {"status": "canceled", "reason": "queue timeout"}
#: Generous: the symptoms appear within a minute alone (44 s), but a clean-clone CI with the other
#: lane running gate experiments beside it went past 120 s once (2026-12-03): the bound is on a
#: hang, not a speed claim.
SYMPTOM_DEADLINE_S = 240


def failed_runs_seen(sched: dict[tuple, float], pools: dict[str, dict[tuple, float]], reason: str) -> bool:
    """A run failed for `reason`: the scheduler counts it when the run's slot is released, which the
    hang may put off forever (the shared pool full, no sweep to cancel it); the pools count it when it fails."""
    return value(sched, RUNS, status="failed", reason=reason) > 0 or any(
        value(page, "runstack_pool_run_failures_total", pool=p, reason=reason) > 0 for p, page in pools.items())


def incident_symptoms(state) -> dict[str, bool]:
    sched, studio = metrics(state, "scheduler"), metrics(state, "studio")
    pools = {p: metrics(state, f"{p}-pool") for p in ("run", "shared")}
    limit = broker(state).connection_limit()
    return {
        "Internal error": failed_runs_seen(sched, pools, INTERNAL["reason"]),
        "Error retrieving publications": failed_runs_seen(sched, pools, PUBLICATIONS["reason"]),
        "queue timeout": value(sched, RUNS, **QUEUE_TIMEOUT) > 0,
        # The queue timeout cancels runs at 2.5 s here (10 platform minutes at scale 0.25), so
        # "late" must sit well below it; stable releases start runs in ~0.45 s (p95).
        "late starts": late_starts(sched, 1.0) > 0,
        "late housekeeping": value(sched, "runstack_housekeeping_pending_lateness_seconds") > 2.0,
        "Studio launch failures": value(studio, "runstack_studio_launches_total", outcome="no_worker") > 0,
        "broker at its limit": limit is not None and len(broker(state).connections()) >= limit,
    }


#: The symptoms a fill of the pools shows once: after it, no run starts again.
WHILE_FILLING = ("Error retrieving publications", "late starts")


def stuck_full(state) -> bool:
    """Every slot of both pools holds a run stuck in telemetry: no run can start any more."""
    pages = {p: metrics(state, f"{p}-pool") for p in ("run", "shared")}
    return all(0 < value(page, "runstack_pool_slots", pool=p) <= value(page, "runstack_telemetry_stuck", pool=p)
               for p, page in pages.items())


def test_buggy_release_without_guardrail_shows_every_incident_symptom(tmp_path: Path) -> None:
    with runstack(tmp_path, TELEMETRY_RELEASE="1.5.0-rc1") as state:
        seen: dict[str, bool] = {}
        restarts = 0

        def all_seen() -> bool:
            nonlocal restarts
            drive(url(state, "scheduler"), seconds=5, runs_per_s=10, studio_per_s=1)
            seen.update({k: v or seen.get(k, False) for k, v in incident_symptoms(state).items()})
            missed = [k for k in WHILE_FILLING if not seen[k]]
            if missed and stuck_full(state) and restarts < 4:
                # These two show only while the pools fill: a run fails for publications while one
                # runs as the last slots go, and a run starts late only when a slot frees up after it
                # waited. Once every slot is stuck no run starts again, so a fill that happened to miss
                # one (CI, 2026-12-03: publications; 2026-12-04: late starts) misses it for good. The
                # pools are restarted, as the platform's operators did, and fill again.
                restarts += 1
                for pool in ("run-pool", "shared-pool"):
                    LocalBackend().respawn(Path(state.run_dir), pool, dict(state.services[pool].env or {}))
            return all(seen.values())

        assert wait_until(all_seen, SYMPTOM_DEADLINE_S, pause_s=0), \
            f"not seen within {SYMPTOM_DEADLINE_S} s: {[k for k, v in seen.items() if not v]}"
        assert broker(state).connection_limit() == 40, "the design's default limit, set at start"
        pools = {p: metrics(state, f"{p}-pool") for p in ("run", "shared")}
        assert value(pools["run"], "runstack_telemetry_stuck", pool="run") == 8, "the run pool is full of stuck telemetry"
        # The scheduler's own API agrees with its metrics about the failures.
        counts = runs_by_reason(state)
        assert counts["failed:Internal error"] == value(metrics(state, "scheduler"), RUNS, **INTERNAL)


def test_telemetry_guardrail_frees_slots_and_no_symptom_appears(tmp_path: Path) -> None:
    with runstack(tmp_path, TELEMETRY_RELEASE="1.5.0-rc1", TELEMETRY_TIMEOUT_S="1") as state:
        counts = drive(url(state, "scheduler"), seconds=20, runs_per_s=8, studio_per_s=1)
        wait_until(lambda: value(metrics(state, "scheduler"), "runstack_runs_queued") == 0, 30)
        sched = metrics(state, "scheduler")
        pools = [metrics(state, "run-pool"), metrics(state, "shared-pool")]
        timeouts = sum(value(p, "runstack_telemetry_invocations_total", pool=n, release="1.5.0-rc1", outcome="timeout")
                       for p, n in zip(pools, ("run", "shared")))
        assert timeouts > 0, "the bug was present and the guardrail cut it off"
        assert value(sched, RUNS, status="succeeded", reason="") > 100
        assert value(sched, RUNS, **INTERNAL) == 0
        assert value(sched, RUNS, **PUBLICATIONS) == 0
        assert value(sched, RUNS, **QUEUE_TIMEOUT) == 0
        assert counts["studio_failed"] == 0 and counts["studio_launched"] > 0
        assert len(broker(state).connections()) < 40


def test_workload_isolation_keeps_studio_healthy_while_runs_suffer(tmp_path: Path) -> None:
    with runstack(tmp_path, TELEMETRY_RELEASE="1.5.0-rc1", OVERFLOW_TO_SHARED="false") as state:
        counts = drive(url(state, "scheduler"), seconds=20, runs_per_s=8, studio_per_s=1)
        sched, shared = metrics(state, "scheduler"), metrics(state, "shared-pool")
        assert value(sched, RUNS, **QUEUE_TIMEOUT) > 0, "runs suffer: the run pool is stuck"
        assert value(shared, "runstack_pool_slots_busy", pool="shared", kind="run") == 0
        assert counts["studio_failed"] == 0 and counts["studio_launched"] >= 15
        assert value(sched, RUNS, **INTERNAL) == 0, "8 stuck runs cannot exhaust 40 connections"


def test_stable_and_fixed_releases_show_no_symptom(tmp_path: Path) -> None:
    for release in ("1.4.2", "1.5.0-rc2"):
        with runstack(tmp_path / release, TELEMETRY_RELEASE=release) as state:
            counts = drive(url(state, "scheduler"), seconds=15, runs_per_s=8, studio_per_s=1)
            assert wait_until(lambda: value(metrics(state, "scheduler"), "runstack_runs_running", pool="run")
                              + value(metrics(state, "scheduler"), "runstack_runs_running", pool="shared") == 0, 30)
            sched = metrics(state, "scheduler")
            assert counts["submitted"] == 120
            assert value(sched, RUNS, status="succeeded", reason="") == 120, release
            assert late_starts(sched, 2.0) == 0
            assert value(sched, "runstack_housekeeping_pending_lateness_seconds") < 2.0
            assert counts["studio_failed"] == 0
            sent = value(metrics(state, "telemetry-collector"), "runstack_telemetry_payloads_total", release=release)
            assert sent == 120, "every run's telemetry reached the collector through its link"
