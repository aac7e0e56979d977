"""Load from locust in its own processes (master and workers): totals in result.json,
per-second statistics in the timeline, failures seen while a link is down."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.chaos.engine_helpers import assert_nothing_left, only_run_dir, result
from tests.conftest import STACKS, chaosgate

EXPERIMENT = f"""
name: mini-load
stack: {STACKS / 'mini' / 'docker-compose.yml'}
load: {{profile: {STACKS / 'mini' / 'load.py'}, target: front, users: 4, spawn_rate: 4, workers: 2}}
phases: {{warmup: 3s, baseline: 7s, fault: 8s, recovery: 4s}}
deadline: 2m
faults:
  - {{type: network.down, link: front -> echo}}
surfaces:
  visitors:
    services: [front]
    slis:
      failure_ratio: {{kind: ratio, source: load, good: locust_failures_total, total: locust_requests_total, better: lower, tolerance: 0.05}}
expected_radius: []
"""


def test_locust_master_and_workers_feed_the_timeline_and_the_result(tmp_path: Path, out: Path) -> None:
    path = tmp_path / "experiment.yaml"
    path.write_text(EXPERIMENT)
    run = chaosgate("run", str(path), "--out", str(out))
    assert run.code == 0, run.err
    assert "load: 4 users against front, 2 workers" in run.err
    run_dir = only_run_dir(out)
    res = result(run_dir)
    assert res["load"]["requests"] > 20 and res["load"]["failures"] > 0, res["load"]
    assert (run_dir / "load" / "worker-1.log").exists()
    with sqlite3.connect(run_dir / "timeline.db") as db:
        times = db.execute("SELECT COUNT(DISTINCT t) FROM samples WHERE source = 'load' "
                           "AND name = 'locust_requests_total'").fetchone()[0]
    assert times >= 16, "statistics reached the timeline at every sample"
    ratio = res["slis"]["visitors"]["failure_ratio"]
    assert ratio["baseline"]["value"] == 0 and ratio["fault"]["value"] > 0.1, ratio
    assert res["blast_radius"]["radius"] == ["visitors"] and res["blast_radius"]["contained"] is False
    assert_nothing_left(run_dir)
