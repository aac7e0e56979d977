"""`chaosgate gate POLICY --dry-run`: the plan (runs in order, declared time, each comparison's
alpha, the samples each criterion will get), and nothing started or written."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.conftest import ROOT, chaosgate

POLICY = ROOT / "gates" / "pre-promotion.yaml"
RELEASE_HANG = ROOT / "experiments" / "incident-2026-02" / "telemetry-release-hang.yaml"


def test_the_pre_promotion_plan_lists_runs_time_alpha_and_samples(tmp_path: Path) -> None:
    out = tmp_path / "reports"
    result = chaosgate("gate", str(POLICY), "--dry-run", "--candidate", "TELEMETRY_RELEASE=1.5.0-rc1", "--out", str(out))
    assert result.code == 0, result.err
    text = result.out
    runs = re.findall(r"^ +\d+\. (\S+) +(baseline|candidate) +repeat 1 +(\d+)s of phases", text, re.M)
    assert runs[:4] == [("telemetry-release-hang", "baseline", "48"), ("telemetry-release-hang", "candidate", "48"),
                        ("broker-connection-saturation", "baseline", "43"),
                        ("broker-connection-saturation", "candidate", "43")]
    assert len(runs) == 10
    assert "candidate: TELEMETRY_RELEASE=1.5.0-rc1" in text and "baseline: TELEMETRY_RELEASE=1.4.2" in text
    assert "declared time: 8m36s of phases over 10 runs and 1 matrix criterion(s); at most 38m by the runs' deadlines" in text
    # alpha 0.05 over 12 comparisons (ten vs_baseline pairs, a trend and the matrix), half kept for fail-fast's
    # looks: verdict.final_alpha's numbers.
    assert "Bonferroni over 12 comparison(s)" in text and "each final comparison at 0.00208" in text
    # Fail-fast's half: 0.005 per critical pair, spent over 25 one-second looks by those that can decide.
    assert ("telemetry-release-hang        alpha 0.00208, 25 look(s) per candidate run spending up to 0.005 in all, "
            "on looks with enough samples") in text
    # A quantile is of the phase's requests, so it rests on events too, like a ratio.
    assert ("run start delay: runs.start_delay_p95_s vs baseline in the fault phase, worse by at most max(50% of "
            "the baseline, 1)\n    telemetry-release-hang  alpha 0.00208; events counted over 1 run(s) x 25s per "
            "side") in text
    assert "events counted over 1 run(s) x 20s per side; how many depends on the load (11 users" in text
    assert text.rstrip().endswith("dry run: nothing was started, injected or written")
    assert not out.exists(), "a dry run writes nothing"


def test_the_caller_s_choices_change_the_plan_as_they_would_change_the_gate(tmp_path: Path) -> None:
    result = chaosgate("gate", str(POLICY), "--dry-run", "--repeats", "3", "--no-fail-fast", "--only", "telemetry-*",
                       "--out", str(tmp_path))
    assert result.code == 0, result.err
    assert "runs (12, in this order):" in result.out and "fail-fast off" in result.out
    # Two experiments left: runs (2), Studio (1), start delay (1) are the vs_baseline comparisons,
    # the stuck runs' climb (1) the trend.
    assert "Bonferroni over 5 comparison(s)" in result.out and "each final comparison at 0.01" in result.out
    assert "held slots do not accumulate (critical)" in result.out and "judged at the end (no fail-fast look)" in result.out
    assert "at most 75 windows of 1s per side over 3 run(s) x 25s" in result.out  # the trend's own window
    assert "look(s)" not in result.out
    assert "NOTHING SET (give --candidate VAR=VALUE)" in result.out


def test_an_event_count_is_estimated_from_a_stored_run_and_too_few_samples_are_flagged(tmp_path: Path) -> None:
    run_dir = tmp_path / "reports" / "runs" / "20260101-000000-telemetry-release-hang-0123abcd"
    run_dir.mkdir(parents=True)
    (run_dir / "result.json").write_text(json.dumps({
        "experiment": "telemetry-release-hang", "file": str(RELEASE_HANG), "run_id": "0123abcd",
        "run_dir": str(run_dir), "status": "completed", "phases": {"fault": [100.0, 110.0]},
        "slis": {"runs": {"success_ratio": {"fault": {"value": 0.9, "n": 4}},
                          "start_delay_p95_s": {"fault": {"value": 0.5, "n": 2}}}}}))
    policy = tmp_path / "gate.yaml"
    policy.write_text(f"name: small\nexperiments: ['{RELEASE_HANG}']\nrepeats: 2\nwindow: 5s\ncriteria:\n"
                      "  - {name: runs, sli: runs.success_ratio, vs_baseline: {allowed: 5%}, min_samples: 30}\n"
                      "  - {name: delay, sli: runs.start_delay_p95_s, bound: {max: 3}, min_samples: 20}\n")
    result = chaosgate("gate", str(policy), "--dry-run", "--out", str(tmp_path / "reports"))
    assert result.code == 0, result.err
    # 4 events in 10 s, over 2 runs of a 25 s fault phase: 20 events, fewer than the 30 asked for.
    assert ("≈20 events per side over 2 run(s) x 25s (at the rate of stored run 20260101-000000-telemetry-release-"
            "hang-0123abcd) — FEWER than min_samples 30: INCONCLUSIVE") in result.out, result.out
    # The delay's histogram saw 2 requests in those 10 s: 10 over the two runs, fewer than its 20.
    assert ("≈10 events per side over 2 run(s) x 25s (at the rate of stored run 20260101-000000-telemetry-release-"
            "hang-0123abcd) — FEWER than min_samples 20: INCONCLUSIVE") in result.out, result.out


def test_a_broken_policy_gets_located_errors_and_no_plan(tmp_path: Path) -> None:
    policy = tmp_path / "gate.yaml"
    policy.write_text(f"name: broken\nexperiments: ['{RELEASE_HANG}']\ncriteria:\n"
                      "  - {name: c, sli: runs.nope, vs_baseline: {allowed: 5%}}\n")
    result = chaosgate("gate", str(policy), "--dry-run", "--out", str(tmp_path / "o"))
    assert result.code == 3 and result.out == ""
    assert f"chaosgate: error: {policy}:4: criteria.0.sli: experiment 'telemetry-release-hang' has no SLI 'runs.nope'" \
        in result.err
    assert not (tmp_path / "o").exists()


def test_re_judging_has_no_plan(tmp_path: Path) -> None:
    result = chaosgate("gate", str(POLICY), "--dry-run", "--from", str(tmp_path))
    assert result.code == 3 and "--from re-judges stored runs and runs nothing" in result.err


def test_a_trend_on_a_ratio_or_with_a_second_rule_is_refused_at_its_line(tmp_path: Path) -> None:
    policy = tmp_path / "gate.yaml"
    policy.write_text(f"name: trends\nexperiments: ['{RELEASE_HANG}']\ncriteria:\n"
                      "  - {name: a, sli: runs.success_ratio, trend: {allowed: 1}}\n"
                      "  - {name: b, sli: telemetry.stuck_max, trend: {allowed: 1}, vs_baseline: {allowed: 5%}}\n"
                      "  - {name: c, sli: telemetry.stuck_max, trend: {allowed: 1, per: 30s}}\n")
    result = chaosgate("gate", str(policy), "--dry-run", "--out", str(tmp_path / "o"))
    assert result.code == 3 and result.out == "", result.out
    assert (f"{policy}:4: criteria.0.sli: a trend is fitted to per-window values: 'runs.success_ratio' is a ratio "
            "SLI") in result.err, result.err
    assert f"{policy}:5: criteria.1: give exactly one of vs_baseline, trend, bound, blast_radius, matrix" in result.err
    assert ":6:" not in result.err  # a trend on a gauge, per 30 s, is fine
