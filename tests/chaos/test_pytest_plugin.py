"""The pytest plugin, through pytest's own `pytester` (an inner pytest run in a subprocess, with
the plugin loaded by its entry point as any installation would), against the mini stack."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.chaos.engine_helpers import journal_states
from tests.conftest import STACKS, group_pids, live

pytest_plugins = ["pytester"]
pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("pytest-plugin")]
MINI = STACKS / "mini"


def stack_dirs(out: Path) -> list[Path]:
    return sorted(out.glob("stacks/*-pytest-*"))


def assert_gone(stack_dir: Path) -> None:
    state = json.loads((stack_dir / "stack.json").read_text())
    assert state["status"] == "down", state["status"]
    pids = [s["process"]["pid"] for s in state["services"].values() if s.get("process")] + [state["toxiproxy"]["pid"]]
    assert live(pids) == [] and group_pids(pids) == [], "nothing of the stack runs"


def run_inner(pytester: pytest.Pytester, out: Path, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", f"--chaosgate-compose={MINI / 'docker-compose.yml'}",
                                         f"--chaosgate-out={out}", *args, timeout=600)


def test_one_stack_per_session_faults_rolled_back_on_every_exit(pytester: pytest.Pytester, tmp_path: Path) -> None:
    out = tmp_path / "reports"
    pytester.makepyfile(test_inner="""
        import time, requests

        LATENCY = {"type": "network.latency", "link": "front -> echo", "latency_ms": 400}

        def via_echo(stack):
            t0 = time.monotonic()
            assert requests.get(stack.url("front", "/via-echo"), timeout=10).status_code == 200
            return time.monotonic() - t0

        def toxics(stack):
            return [t for p in requests.get(stack.state.toxiproxy_url + "/proxies", timeout=5).json().values()
                    for t in p["toxics"]]

        def test_a_fault_acts_inside_its_block_only(chaosgate_stack, chaosgate_fault):
            with chaosgate_fault(LATENCY):
                assert via_echo(chaosgate_stack) >= 0.4
                assert toxics(chaosgate_stack)
            assert toxics(chaosgate_stack) == []
            print("STACK", chaosgate_stack.run_dir)

        def test_a_failure_inside_the_block_still_rolls_back(chaosgate_stack, chaosgate_fault):
            with chaosgate_fault("{type: network.latency, link: front -> echo, latency_ms: 300}"):
                assert False, "the test fails while the fault is in place"

        def test_after_the_failure_nothing_is_left(chaosgate_stack):
            assert toxics(chaosgate_stack) == []
            print("STACK", chaosgate_stack.run_dir)

        def test_ctrl_c_inside_the_block_rolls_back(chaosgate_stack, chaosgate_fault):
            with chaosgate_fault(LATENCY):
                raise KeyboardInterrupt
    """)
    res = run_inner(pytester, out, "-s", "--junitxml", str(tmp_path / "junit.xml"))
    res.stdout.fnmatch_lines(["*1 failed, 2 passed*"])
    assert "KeyboardInterrupt" in res.stdout.str()
    dirs = stack_dirs(out)
    assert len(dirs) == 1, "one stack for the whole session"
    assert res.stdout.str().count(f"STACK {dirs[0]}") == 2
    assert journal_states(dirs[0]) == ["rolled_back"] * 3, "three faults, all rolled back (failure and Ctrl-C too)"
    assert_gone(dirs[0])
    props = {p.get("name"): p.get("value") for p in ET.parse(tmp_path / "junit.xml").getroot().iter("property")}
    assert props.get("chaosgate_stack_dir") == str(dirs[0]), props


def test_the_experiment_marker_passes_fails_and_errors_as_the_run_says(pytester: pytest.Pytester,
                                                                      tmp_path: Path) -> None:
    out = tmp_path / "reports"
    # ~50 requests a phase vouch for a failure share within about 5 points, so the tolerance is 10:
    # with 5, a clean run's radius would be unknown, not contained.
    base = f"""stack: {MINI / 'docker-compose.yml'}
load: {{profile: {MINI / 'load.py'}, target: front, users: 2, spawn_rate: 10}}
phases: {{warmup: 2s, baseline: 4s, fault: 5s, recovery: 1s}}
deadline: 2m
surfaces:
  front:
    services: [front]
    slis:
      failures: {{kind: ratio, source: load, good: locust_failures_total, total: locust_requests_total, better: lower, tolerance: 0.1}}
"""
    pytester.makefile(".yaml", contained="name: contained\n" + base + "faults:\n"
                      "  - {type: network.latency, link: front -> echo, latency_ms: 20}\nexpected_radius: []\n")
    pytester.makefile(".yaml", spreads="name: spreads\n" + base + "faults:\n"
                      "  - {type: network.down, link: front -> echo}\nexpected_radius: []\n")
    pytester.makefile(".yaml", unsteady="name: unsteady\n" + base + "steady_state:\n"
                      "  - {sli: front.failures, min: 2}\nfaults:\n"
                      "  - {type: network.latency, link: front -> echo, latency_ms: 20}\nexpected_radius: []\n")
    pytester.makepyfile(test_marked="""
        import pytest

        @pytest.mark.chaosgate_experiment("contained.yaml")
        def test_contained(chaosgate_result):
            assert chaosgate_result.blast_radius.contained is True

        @pytest.mark.chaosgate_experiment("spreads.yaml")
        def test_spreads():
            pass

        @pytest.mark.chaosgate_experiment("unsteady.yaml")
        def test_unsteady():
            pass
    """)
    res = run_inner(pytester, out, "--junitxml", str(tmp_path / "junit.xml"))
    res.assert_outcomes(passed=1, failed=1, errors=1)
    text = res.stdout.str()
    assert "blast radius of spreads NOT contained: degraded front" in text, text[-3000:]
    assert "experiment unsteady inconclusive: steady state did not hold" in text, text[-3000:]
    cases = {c.get("name"): c for c in ET.parse(tmp_path / "junit.xml").getroot().iter("testcase")}
    for name in ("test_contained", "test_spreads", "test_unsteady"):
        props = {p.get("name"): p.get("value") for p in cases[name].iter("property")}
        run_dir = Path(props["chaosgate_run_dir"])
        assert (run_dir / "result.json").exists() and Path(props["chaosgate_report"]).is_file(), props
        assert all(s == "rolled_back" for s in journal_states(run_dir))
