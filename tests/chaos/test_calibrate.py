"""`chaosgate calibrate`: A/A pairs on a real stack measure a policy's run-to-run noise, written
beside the policy and used by its gates; a calibration that no longer fits the policy is warned
about and not used. The file checks and the interval arithmetic are pure (no stack)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chaos.gate.calibration import Calibration, Noise, load_for, path_for, stamp_of
from chaos.gate.policy import load_policy
from chaos.measure.stats import compare
from tests.chaos.engine_helpers import mini_gate_policy
from tests.conftest import chaosgate


def _mini_policy(tmp_path: Path) -> Path:
    """A gate policy on the mini stack: one experiment, one calibrated criterion."""
    return mini_gate_policy(tmp_path)


def _noise(**changes) -> Noise:
    fields = dict(criterion="broker connections", experiment="mini-faults", level=4.0, estimates=[4.0, 4.2, 3.9, 4.1],
                  aa_effects=[0.2, 0.2], within_variance=0.01, between_variance=0.04, false_blocks=0, alpha=0.05)
    return Noise(**{**fields, **changes})


def test_a_calibration_that_fits_the_policy_is_used_and_one_that_does_not_is_warned_of(tmp_path: Path) -> None:
    policy = load_policy(_mini_policy(tmp_path))
    cal = Calibration(policy=str(policy.path), pairs=2, stamp=stamp_of(policy), noise=[_noise()])
    path_for(policy.path).write_text(cal.model_dump_json())
    used, warnings = load_for(policy)
    assert used is not None and used.find("broker connections", "mini-faults") is not None and warnings == []
    # Another machine: used, with a warning (run-to-run noise depends on the machine).
    path_for(policy.path).write_text(cal.model_copy(update={"stamp": cal.stamp.model_copy(
        update={"cores": cal.stamp.cores + 6})}).model_dump_json())
    used, warnings = load_for(policy)
    assert used is not None and "core(s)" in warnings[0], warnings
    # A floor raised from the calibration is not a change to what was measured: still used.
    edited = policy.path.read_text().replace("floor: 5", "floor: 9")
    policy.path.write_text(edited)
    assert load_for(load_policy(policy.path))[0] is not None
    # The experiment changed since: stale, not used, and the warning says what and what to run.
    exp = policy.path.parent / "experiment.yaml"
    exp.write_text(exp.read_text().replace("fault: 7s", "fault: 8s"))
    used, warnings = load_for(load_policy(policy.path))
    assert used is None and "stale and not used: experiment mini-faults changed" in warnings[0], warnings
    assert "chaosgate calibrate" in warnings[0]


def test_run_to_run_variance_widens_the_interval_and_lowers_what_a_gate_can_claim() -> None:
    base, cand = [10.0, 10.2, 9.9, 10.1, 10.0, 9.8, 10.1, 10.0], [10.4, 10.5, 10.3, 10.6, 10.4, 10.5, 10.3, 10.4]
    plain = compare(base, cand, better="lower", floor=0.1, alpha=0.05, min_samples=5)
    noisy = compare(base, cand, better="lower", floor=0.1, alpha=0.05, min_samples=5, extra_variance=0.09)
    assert plain.verdict == "FAIL" and noisy.verdict == "INCONCLUSIVE", (plain, noisy)
    assert noisy.low < plain.low and noisy.high > plain.high and noisy.effect == plain.effect
    assert noisy.detectable > plain.detectable and "from the calibration" in noisy.method


@pytest.mark.integration
def test_calibrate_measures_aa_pairs_on_a_real_stack_and_the_gate_uses_the_result(tmp_path: Path) -> None:
    policy = _mini_policy(tmp_path)
    out = tmp_path / "reports"
    res = chaosgate("calibrate", str(policy), "--pairs", "2", "--out", str(out), timeout=900)
    assert res.code == 0, (res.out, res.err[-3000:])
    path = path_for(policy)
    assert f"calibration: {path}" in res.out
    cal = Calibration.model_validate_json(path.read_text())
    assert cal.pairs == 2 and cal.stamp.experiments.keys() == {"mini-faults"}
    noise = cal.find("broker connections", "mini-faults")
    assert noise is not None and len(noise.estimates) == 4 and len(noise.aa_effects) == 2, noise
    assert noise.between_variance >= 0 and noise.within_variance > 0 and noise.detectable is not None
    assert noise.false_blocks <= 2 and 0 < noise.alpha <= 0.05
    # The A/A gate's runs: interleaved baseline, candidate, on one kept stack, every one completed.
    gate_dir = next((out / "gates").glob("*"))
    record = json.loads((gate_dir / "gate.json").read_text())
    assert [r["side"] for r in record["runs"]] == ["baseline", "candidate"] * 2
    assert all(r["status"] == "completed" for r in record["runs"]), record["runs"]
    # Judged again as a gate of the policy: the calibrated comparison counts the run-to-run noise.
    again = chaosgate("gate", str(policy), "--from", str(gate_dir))
    verdict = json.loads((gate_dir / "verdict.json").read_text())
    method = next(c["method"] for c in verdict["criteria"] if c["criterion"] == "broker connections")
    assert again.code in (0, 2) and "calibration" in method, (again.out, method)
