"""A gate runs again a run whose baseline was not steady before any fault (the environment, not
the candidate), up to `retries` times: judged from the attempt that held, or INCONCLUSIVE when
none did — never a pass. On a one-service stack whose load fails on purpose for its first
attempts (a real locust process, a real HTTP service)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import STACKS, chaosgate

pytestmark = pytest.mark.integration  # starts a stack, a server or a browser

PROFILE = """
import os
from pathlib import Path

from locust import FastHttpUser, constant_throughput, task

# Each locust start is one attempt: the first UNSTEADY_ATTEMPTS of them fail every request.
counter = Path(os.environ["ATTEMPTS_FILE"])
attempt = int(counter.read_text()) + 1 if counter.exists() else 1
counter.write_text(str(attempt))
UNSTEADY = attempt <= int(os.environ["UNSTEADY_ATTEMPTS"])


class Visitor(FastHttpUser):
    wait_time = constant_throughput(10)

    @task
    def hello(self):
        with self.client.get("/hello", catch_response=True) as response:
            if UNSTEADY:
                response.failure("an unsteady attempt")
"""


def experiment(name: str, attempts_file: Path, unsteady: int) -> str:
    return f"""name: {name}
stack: echo.yml
load:
  profile: profile.py
  target: echo
  users: 2
  spawn_rate: 10
  environment: {{ATTEMPTS_FILE: "{attempts_file}", UNSTEADY_ATTEMPTS: "{unsteady}"}}
phases: {{warmup: 1s, baseline: 4s, fault: 3s, recovery: 1s}}
deadline: 2m
steady_state:
  - {{sli: echo.failures, max: 0.1}}
surfaces:
  echo:
    services: [echo]
    slis:
      failures: {{kind: ratio, source: load, good: locust_failures_total, total: locust_requests_total, better: lower, tolerance: 0.05}}
"""


def test_an_unsteady_baseline_is_run_again_and_judged_from_the_attempt_that_held(tmp_path: Path) -> None:
    (tmp_path / "echo.yml").write_text(f"""name: echo-only
services:
  echo:
    image: chaosgate/test-mini
    working_dir: {STACKS / 'mini'}
    ports: ["8000"]
    x-chaosgate:
      local: [python, app.py]
      health: {{http: /healthz}}
""")
    (tmp_path / "profile.py").write_text(PROFILE)
    counts = {"steadies": tmp_path / "steadies.count", "never-steady": tmp_path / "never.count"}
    (tmp_path / "steadies.yaml").write_text(experiment("steadies", counts["steadies"], 1))
    (tmp_path / "never-steady.yaml").write_text(experiment("never-steady", counts["never-steady"], 2))
    (tmp_path / "gate.yaml").write_text("""name: retry-gate
experiments: [steadies.yaml, never-steady.yaml]
candidate: {RELEASE: "2"}
retries: 1
window: 1s
criteria:
  - {name: failures, sli: echo.failures, vs_baseline: {floor: 0.5}, critical: true, min_samples: 5}
""")
    res = chaosgate("gate", str(tmp_path / "gate.yaml"), "--out", str(tmp_path / "reports"), timeout=600)
    gate_dir = next((tmp_path / "reports" / "gates").glob("*"))
    verdict = json.loads((gate_dir / "verdict.json").read_text())
    assert res.code == 2 and verdict["verdict"] == "INCONCLUSIVE", (res.out, res.err[-3000:])

    runs = [(r["experiment"], r["side"], r["status"], r["retried"]) for r in verdict["runs"]]
    assert runs == [("steadies", "baseline", "inconclusive", True), ("steadies", "baseline", "completed", False),
                    ("steadies", "candidate", "completed", False),
                    ("never-steady", "baseline", "inconclusive", True),
                    ("never-steady", "baseline", "inconclusive", False),  # retries spent: it stands
                    ("never-steady", "candidate", "completed", False)], runs
    assert {k: int(f.read_text()) for k, f in counts.items()} == {"steadies": 3, "never-steady": 3}
    for r in verdict["runs"][:1] + verdict["runs"][3:5]:
        phases = json.loads((Path(r["run_dir"]) / "result.json").read_text())["phases"]
        assert "fault" not in phases, "an unsteady attempt stops before its fault phase"

    crit = {c["experiment"]: c for c in verdict["criteria"]}
    assert crit["steadies"]["verdict"] == "PASS", crit["steadies"]   # judged from the attempt that held
    assert crit["never-steady"]["verdict"] == "INCONCLUSIVE", crit["never-steady"]
    assert any("never-steady" in r and "steady state did not hold" in r for r in verdict["reasons"]), verdict["reasons"]
    assert sum("was run again" in w for w in verdict["warnings"]) == 2, verdict["warnings"]
    assert "running it again (attempt 2 of 2)" in res.err
    summary = (gate_dir / "summary.md").read_text()
    assert summary.count("(unsteady baseline, run again)") == 2, summary
