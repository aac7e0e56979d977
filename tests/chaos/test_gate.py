"""`chaosgate gate` end to end: the pre-promotion policy on the real run stack (bad release blocked
early, fixed release and A/A passed, a dropped guardrail blocked), a dying metrics endpoint
(inconclusive, never a pass), re-judging stored runs, waivers, and located policy errors."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from chaos.backends.state import StackState
from tests.conftest import ROOT, STACKS, chaosgate, group_pids, live

# Run-stack experiments under load: one xdist lane for all of them (see tests/conftest.py).
pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("runstack")]

POLICY = ROOT / "gates" / "pre-promotion.yaml"
HANG = "telemetry-release-hang"
GATE_DEADLINE_S = 900


def run_gate(out: Path, *args: str):
    res = chaosgate("gate", str(POLICY), "--out", str(out), *args, timeout=GATE_DEADLINE_S)
    dirs = sorted((out / "gates").glob("*"))
    assert len(dirs) == 1, (dirs, res.err[-3000:])
    verdict = json.loads((dirs[0] / "verdict.json").read_text())
    return res, verdict, dirs[0]


def gate_a_good_release(out: Path, *args: str):
    """The gate on a release that must pass, run once more when the first could not tell (exit 2).

    A good release's intervals are honest: on a loaded machine (CI runs three lanes on two cores)
    its held-slot climb or its radius sometimes spans the allowance, and the gate says INCONCLUSIVE
    rather than PASS. That is the gate failing closed, not a defect, so it gets one more gate on
    fresh runs; a FAIL (a good release blocked) is never retried, and two INCONCLUSIVE gates fail
    the test. The first gate's unpassed criteria are kept as a warning in pytest's summary."""
    res, v, gate_dir = run_gate(out / "first", *args)
    if res.code != 2:
        return res, v, gate_dir, out / "first"
    assert_stacks_down(out / "first")
    warnings.warn(f"the first gate could not tell, so it was run again: {not_passed(v)}", stacklevel=2)
    return (*run_gate(out / "again", *args), out / "again")


def by_name(verdict: dict, experiment: str | None = None) -> dict[str, dict]:
    return {c["criterion"]: c for c in verdict["criteria"] if experiment in (None, c["experiment"])}


def not_passed(verdict: dict) -> list[str]:
    """The criteria that did not pass, with their reasons: first in a failure's message, which CI cuts."""
    return [f"{c['criterion']} ({c['experiment']}): {c['verdict']}: {str(c.get('reason', ''))[:400]}"
            for c in verdict["criteria"] if c["verdict"] != "PASS"]


def run_result(run: dict) -> dict:
    return json.loads((Path(run["run_dir"]) / "result.json").read_text())


def assert_stacks_down(out: Path) -> None:
    """Every stack the gate started is down: no process of it runs."""
    states = [StackState.load(d) for d in (out / "runs").glob("*-stack-*")]
    assert states, "the gate kept its stack in a run directory of its own"
    for state in states:
        assert state.status == "down", state.run_dir
        pids = [s.process.pid for s in state.services.values() if s.process] + [state.toxiproxy.pid]
        assert live(pids) == [] and group_pids(pids) == []


def test_make_demo_blocks_the_bad_release_early_and_rejudging_gives_the_same_verdict(tmp_path: Path) -> None:
    out = tmp_path / "reports"
    # `make demo` is scripts/demo after set-up: the whole policy against 1.5.0-rc1.
    demo = subprocess.run(["bash", "scripts/demo", "--out", str(out)], cwd=ROOT, capture_output=True, text=True,
                          timeout=GATE_DEADLINE_S, stdin=subprocess.DEVNULL)
    assert demo.returncode == 0, (demo.stdout, demo.stderr[-3000:])
    lines = demo.stdout.strip().splitlines()
    assert lines[-2].startswith("demo: the gate exited 1 (FAIL): it blocked TELEMETRY_RELEASE=1.5.0-rc1"), lines
    assert lines[-1].startswith("report: ") and Path(lines[-1].removeprefix("report: ")).is_file(), lines
    assert "gate pre-promotion: run 1 of" in demo.stderr, "progress is shown"
    dirs = sorted((out / "gates").glob("*"))
    assert len(dirs) == 1, dirs
    gate_dir = dirs[0]
    v = json.loads((gate_dir / "verdict.json").read_text())
    assert v["verdict"] == "FAIL" and v["exit_code"] == 1
    crit = by_name(v, HANG)
    runs_ok = crit["runs stay healthy"]
    assert runs_ok["verdict"] == "FAIL" and runs_ok["low"] > runs_ok["allowed"], runs_ok
    assert runs_ok["n_baseline"] >= 10 and runs_ok["n_candidate"] >= 10 and "Newcomb" in runs_ok["method"]
    assert "FAIL: runs stay healthy [telemetry-release-hang]" in demo.stdout, demo.stdout
    # Fail-fast stopped the whole gate: the other experiments are listed as not run.
    assert {r["experiment"] for r in v["runs"] if (r.get("reason") or "").startswith("not run")} == {
        "broker-connection-saturation", "publications-instability", "shared-pool-exhaustion",
        "telemetry-dependency-hang"}
    # Fail-fast: the candidate's run was cut short inside its fault phase, and the gate says when.
    assert v["stopped_early"] and "fail-fast" in v["stopped_early"]
    cand = next(r for r in v["runs"] if r["side"] == "candidate")
    assert cand["stopped_by_gate"] and cand["status"] == "aborted"
    fault = run_result(cand)["phases"]["fault"]
    assert fault[1] - fault[0] < 25, "stopped before the declared 25 s fault phase ended"
    assert run_result(cand)["stack"]["reused"] is True, "baseline and candidate shared one stack"
    assert_stacks_down(out)
    # Pipeline outputs: JUnit parses and carries the failure; the summary says what to do.
    suites = ET.parse(gate_dir / "junit.xml").getroot()
    failures = [f.get("message") for f in suites.iter("failure")]
    assert any("all of it beyond the allowed" in m for m in failures), failures
    assert "**FAIL** (exit 1)" in (gate_dir / "summary.md").read_text()

    # Re-judging the stored runs: the same verdict.json but for the time of judging.
    again = chaosgate("gate", str(POLICY), "--candidate", "TELEMETRY_RELEASE=1.5.0-rc1", "--from", str(gate_dir))
    assert again.code == 1, again.err
    v2 = json.loads((gate_dir / "verdict.json").read_text())
    assert {**v, "judged_at": 0} == {**v2, "judged_at": 0}

    # An expired waiver changes nothing but a warning; a live one turns the FAIL into a WARN, listed.
    waivers = tmp_path / "waivers.yaml"
    expired = (dt.date.today() - dt.timedelta(days=1)).isoformat()
    waivers.write_text(f"""waivers:
  - {{criterion: runs stay healthy, candidate: {{TELEMETRY_RELEASE: 1.5.0-rc1}}, reason: known, owner: sre,
     expires: {expired}}}
""")
    # (Judged alone, one experiment is fewer comparisons than the whole policy: a narrower
    # correction, so it is compared with itself judged alone without waivers.)
    only = ["gate", str(POLICY), "--only", "telemetry-release-hang", "--candidate", "TELEMETRY_RELEASE=1.5.0-rc1",
            "--from", str(gate_dir)]
    assert chaosgate(*only).code == 1
    alone = json.loads((gate_dir / "verdict.json").read_text())
    old = chaosgate(*only, "--waivers", str(waivers))
    v3 = json.loads((gate_dir / "verdict.json").read_text())
    assert old.code == 1 and v3["waivers"] == [] and any("expired" in w for w in v3["warnings"])
    assert [c["verdict"] for c in v3["criteria"]] == [c["verdict"] for c in alone["criteria"]]
    assert by_name(alone)["runs stay healthy"]["verdict"] == "FAIL"
    until = (dt.date.today() + dt.timedelta(days=7)).isoformat()
    waivers.write_text(f"""waivers:
  - {{criterion: runs stay healthy, candidate: {{TELEMETRY_RELEASE: 1.5.0-rc1}}, reason: "known <b>bug</b>",
     owner: sre, expires: {until}}}
""")
    live_waiver = chaosgate(*only, "--waivers", str(waivers))
    v4 = json.loads((gate_dir / "verdict.json").read_text())
    assert by_name(v4)["runs stay healthy"]["verdict"] == "WARN"
    assert by_name(v4)["runs stay healthy"]["waiver"]["was"] == "FAIL" and v4["waivers"][0]["owner"] == "sre"
    assert "waived by sre" in live_waiver.out
    # The radius criterion still fails unless it too is waived: a waiver is scoped to one criterion.
    assert live_waiver.code == (1 if by_name(v4)["blast radius contained"]["verdict"] == "FAIL" else 0)


def test_the_fixed_release_passes(tmp_path: Path) -> None:
    res, v, gate_dir, out = gate_a_good_release(tmp_path, "--only", "telemetry-release-hang", "--only", "matrix",
                                                "--candidate", "TELEMETRY_RELEASE=1.5.0-rc2")
    assert res.code == 0, (not_passed(v), res.out[-3000:], res.err[-3000:])
    crit = by_name(v)
    # The matrix of the telemetry hang, run after the experiment on its kept stack: no surface beyond
    # telemetry does worse for rc2 under the same hang, and its call is as unbounded as 1.4.2's.
    matrix, comparison = matrix_of(gate_dir, crit)
    assert matrix["verdict"] == "PASS" and comparison["verdict"] == "PASS" and comparison["changes"] == [], comparison
    assert crit["runs stay healthy"]["verdict"] == "PASS" and crit["blast radius contained"]["verdict"] == "PASS"
    # The fixed release holds no more slots at the end of its fault phase than at its start.
    held = crit["held slots do not accumulate"]
    assert held["verdict"] == "PASS" and held["kind"] == "trend" and held["high"] <= held["allowed"], held
    assert v["stopped_early"] is None and all(r["status"] == "completed" for r in v["runs"])
    assert_stacks_down(out)


def matrix_of(gate_dir: Path, crit: dict[str, dict]) -> tuple[dict, dict]:
    """The shipped matrix criterion's verdict and its comparison.json, with both matrices' reports there."""
    sides = json.loads((gate_dir / "gate.json").read_text())["matrices"]
    assert [m["criterion"] for m in sides] == ["matrix of the telemetry hang"], sides
    page = (gate_dir / "report.html").read_text()
    for folder in (sides[0]["baseline_dir"], sides[0]["candidate_dir"]):
        assert (Path(folder) / "report.html").is_file() and Path(folder).name in page, folder
        cell = json.loads((Path(folder) / "matrix.json").read_text())["cells"]
        assert [c["cell"]["id"] for c in cell] == ["hang:run-pool->telemetry-collector"], cell
    verdict = crit["matrix of the telemetry hang"]
    assert verdict["kind"] == "matrix" and verdict["experiment"] == "matrix", verdict
    return verdict, json.loads((Path(sides[0]["candidate_dir"]) / "comparison.json").read_text())


def test_the_matrix_criterion_turns_the_telemetry_hang_red_for_the_bad_release(tmp_path: Path) -> None:
    # rc1 hangs in its own walk, before any call reaches the collector. When its stuck runs fill the
    # pool before the hang, the link sees no traffic: the candidate's cell cannot show its fault
    # landed, and against its own (already broken) baseline phase nothing reads worse. The same
    # cell's fault window against 1.4.2's shows it either way: runs, Studio and housekeeping worse
    # under the same hang (or, when the hang did land, their entries gone from OK to worse).
    res, v, gate_dir = run_gate(tmp_path, "--only", "matrix", "--candidate", "TELEMETRY_RELEASE=1.5.0-rc1")
    assert res.code == 1, (not_passed(v), res.out[-3000:], res.err[-3000:])
    matrix, comparison = matrix_of(gate_dir, by_name(v))
    assert matrix["verdict"] == "FAIL" and matrix["critical"], matrix
    worse = {c["surface"] for c in comparison["changes"] if c["fails"]}
    assert {"runs", "studio", "housekeeping"} <= worse and "telemetry" not in worse, comparison["changes"]
    assert all(c["candidate"] in ("worse under the same fault", "DEGRADED", "UNAVAILABLE") and c["baseline"] == "OK"
               for c in comparison["changes"] if c["fails"]), comparison["changes"]
    assert "1 cell(s) of 1 did worse for the candidate: hang:run-pool->telemetry-collector: runs OK -> " in matrix["reason"]
    assert "FAIL: matrix of the telemetry hang [matrix]" in res.out
    assert_stacks_down(tmp_path)


def test_a_release_that_hangs_for_a_few_projects_is_never_passed(tmp_path: Path) -> None:
    # 1.5.0-rc3 hangs only for the projects on its legacy path (5 %: 4 of the catalogue's 80): the
    # slots its stuck runs hold climb through the fault phase while runs still succeed, and the
    # trend criterion on them blocks it — or, at worst, cannot tell. Never a PASS.
    res, v, _ = run_gate(tmp_path, "--only", HANG, "--candidate", "TELEMETRY_RELEASE=1.5.0-rc3")
    assert res.code in (1, 2), (res.out, res.err[-3000:])
    held = by_name(v)["held slots do not accumulate"]
    assert held["verdict"] in ("FAIL", "INCONCLUSIVE") and held["effect"] > held["allowed"] == 10, held
    assert "AR(1)" in held["method"] and "held slots do not accumulate" in res.out
    assert_stacks_down(tmp_path)


def test_baseline_against_itself_passes_on_the_real_stack(tmp_path: Path) -> None:
    res, v, _, _ = gate_a_good_release(tmp_path, "--only", "telemetry-dependency-hang", "--baseline",
                                       "TELEMETRY_TIMEOUT_S=1", "--candidate", "TELEMETRY_TIMEOUT_S=1")
    assert res.code == 0, (not_passed(v), res.out[-3000:], res.err[-3000:])
    assert by_name(v)["runs stay healthy"]["verdict"] == "PASS"
    cand = next(r for r in v["runs"] if r["side"] == "candidate")
    reuse = run_result(cand)["stack"]
    assert reuse["reused"] is True and reuse["restarted"] == [], "same variables: nothing restarted"
    assert reuse["checks"] and all(c == "ok" for c in reuse["checks"].values()), reuse


def test_a_candidate_that_drops_the_telemetry_timeout_is_blocked(tmp_path: Path) -> None:
    res, v, _ = run_gate(tmp_path, "--only", "telemetry-dependency-hang", "--baseline", "TELEMETRY_TIMEOUT_S=1",
                         "--candidate", "TELEMETRY_TIMEOUT_S=0")
    assert res.code == 1, (not_passed(v), res.out[-3000:], res.err[-3000:])
    assert by_name(v)["runs stay healthy"]["verdict"] == "FAIL"
    cand = next(r for r in v["runs"] if r["side"] == "candidate")
    reuse = run_result(cand)["stack"]
    # The kept stack: services whose environment the variable changes were restarted (every service
    # of the run stack shares it), the broker — whose environment it is not in — was not.
    assert reuse["reused"] is True and {"run-pool", "shared-pool"} <= set(reuse["restarted"]), reuse
    assert "broker" not in reuse["restarted"] and all(c == "ok" for c in reuse["checks"].values()), reuse
    assert_stacks_down(tmp_path)


def test_a_gate_whose_metrics_endpoint_dies_is_inconclusive_never_a_pass(tmp_path: Path) -> None:
    experiment = tmp_path / "experiment.yaml"
    experiment.write_text(f"""name: broker-metrics-die
stack: {STACKS / 'mini' / 'docker-compose.yml'}
phases: {{warmup: 1s, baseline: 5s, fault: 5s, recovery: 1s}}
deadline: 2m
faults:
  - {{type: process.pause, service: broker}}
surfaces:
  broker:
    services: [broker]
    slis:
      connections: {{kind: gauge, metric: rabbitmq_connections, agg: max}}
""")
    policy = tmp_path / "gate.yaml"
    policy.write_text("""name: mini-gate
experiments: [experiment.yaml]
window: 1s
criteria:
  - {name: broker connections, sli: broker.connections, vs_baseline: {floor: 5}, critical: true, min_samples: 3}
  - {name: broker connections bound, sli: broker.connections, bound: {max: 100}, min_samples: 3}
""")
    res = chaosgate("gate", str(policy), "--out", str(tmp_path / "reports"), timeout=GATE_DEADLINE_S)
    assert res.code == 2, (res.out, res.err[-3000:])
    v = json.loads(next((tmp_path / "reports" / "gates").glob("*/verdict.json")).read_text())
    crit = by_name(v)
    assert v["verdict"] == "INCONCLUSIVE"
    assert crit["broker connections"]["verdict"] == "INCONCLUSIVE"
    assert "too few samples" in crit["broker connections"]["reason"] or "no data" in crit["broker connections"]["reason"]
    # The bound saw at most the one read before the pause took hold: too few samples, never a pass.
    bound = crit["broker connections bound"]
    assert bound["verdict"] == "INCONCLUSIVE" and bound["rule"] in ("too few samples", "missing data (on_missing: "
                                                                                       "inconclusive)"), bound


def test_a_broken_policy_is_refused_at_its_line_and_starts_nothing(tmp_path: Path) -> None:
    policy = tmp_path / "gate.yaml"
    policy.write_text(f"""name: broken
experiments: ["{ROOT / 'experiments' / 'incident-2026-02' / 'telemetry-release-hang.yaml'}", nothing-*.yaml]
criteria:
  - {{name: a, sli: runs.no_such_sli, vs_baseline: {{allowed: 5%}}}}
  - {{name: a, blast_radius: {{max_score: 50}}}}
""")
    res = chaosgate("gate", str(policy), "--out", str(tmp_path / "reports"))
    assert res.code == 3, res.err
    assert f"{policy}:2: experiments.1: no experiment file matches 'nothing-*.yaml'" in res.err
    assert f"{policy}:4: criteria.0.sli: experiment 'telemetry-release-hang' has no SLI 'runs.no_such_sli'" in res.err
    assert "criterion 'a' is named twice" in res.err
    policy.write_text("name: broken\nexperiments: [x.yaml]\ncriteria:\n  - {name: b, sli: runs.success_ratio}\n")
    res = chaosgate("gate", str(policy), "--out", str(tmp_path / "reports"))
    assert res.code == 3 and f"{policy}:4: criteria.0: give exactly one of vs_baseline, trend, bound, blast_radius, matrix" in res.err
    assert "Traceback" not in res.err and not (tmp_path / "reports").exists()
