"""A gate policy's `matrix` criterion, checked and planned without starting anything: its cells
come from the stack file, `--only matrix` selects it, and every mistake in it is named at its
line and field in the policy (or at the surface set's own line)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import ROOT, chaosgate

POLICY = ROOT / "gates" / "pre-promotion.yaml"
MINI = ROOT / "tests" / "stacks" / "mini"
LOAD = f"load: {{profile: '{MINI / 'matrix_load.py'}', target: front}}"
EXPERIMENT = """name: exp
stack: {stack}
phases: {{baseline: 4s, fault: 4s}}
faults: [{{type: network.down, link: front->echo}}]
surfaces: {{greeting: {{services: [front], slis: {{ok: {{kind: ratio, good: 'requests_total{{code="200"}}', total: requests_total}}}}}}}}
"""


def write_policy(tmp_path: Path, matrix: str, extra: str = "") -> Path:
    (tmp_path / "exp.yaml").write_text(EXPERIMENT.format(stack=MINI / "docker-compose.yml"))
    policy = tmp_path / "gate.yaml"
    policy.write_text("name: m\nexperiments: [exp.yaml]\ncriteria:\n"
                      "  - {name: radius, blast_radius: {contained: true}}\n"
                      f"  - name: the matrix\n    matrix: {matrix}\n{extra}")
    return policy


def test_only_matrix_plans_the_shipped_matrix_criterion_alone(tmp_path: Path) -> None:
    result = chaosgate("gate", str(POLICY), "--dry-run", "--only", "matrix", "--candidate",
                       "TELEMETRY_RELEASE=1.5.0-rc1", "--out", str(tmp_path))
    assert result.code == 0, result.err
    text = result.out
    assert "runs (0, in this order):" in text
    assert ("then matrix criterion 'matrix of the telemetry hang': 1 cell(s) for the baseline, then for the "
            "candidate, each 38s of phases (warmup 3s, baseline 10s, fault 20s, recovery 5s):\n"
            "       hang:run-pool->telemetry-collector") in text
    # The matrix is one comparison of the policy's: the only one left, it has all of the final half.
    assert "Bonferroni over 1 comparison(s)" in text and "declared time: 1m16s of phases over 0 runs and 1 matrix" in text
    assert "matrix of the telemetry hang (critical): the candidate's matrix against the baseline's" in text
    assert "alpha 0.025 over its whole matrix" in text
    assert not any(tmp_path.iterdir()), "a dry run writes nothing"
    # Without it in --only, the plan says the matrix is left out and the alpha is not split for it.
    result = chaosgate("gate", str(POLICY), "--dry-run", "--only", "telemetry-release-hang", "--out", str(tmp_path))
    assert result.code == 0 and "not run (--only leaves the matrix out)" in result.out
    assert "then matrix criterion" not in result.out and "Bonferroni over 4 comparison(s)" in result.out


def test_a_matrix_criterion_on_the_mini_stack_takes_its_stack_from_the_experiments(tmp_path: Path) -> None:
    policy = write_policy(tmp_path, f"{{surfaces: mini-matrix, cells: ['hang:front->echo', 'kill:echo'], window: 6s, {LOAD}}}")
    result = chaosgate("gate", str(policy), "--dry-run", "--candidate", "FRONT_ECHO_TIMEOUT_S=none")
    assert result.code == 0, result.err
    assert "then matrix criterion 'the matrix': 2 cell(s)" in result.out, result.out
    assert "       hang:front->echo\n       kill:echo" in result.out


def test_every_mistake_in_a_matrix_criterion_is_named_at_its_line_and_nothing_starts(tmp_path: Path) -> None:
    cases = [
        ("{surfaces: no-such-set}", ":6: criteria.1.matrix.surfaces: no surface set 'no-such-set'"),
        (f"{{surfaces: mini-matrix, cells: ['hang:nowhere->*'], {LOAD}}}",
         ":6: criteria.1.matrix.cells: no cell matches hang:nowhere->*"),
        ("{surfaces: mini-matrix, load: {profile: nope.py, target: front}}",
         ":6: criteria.1.matrix.load.profile: no locustfile at"),
        ("{surfaces: mini-matrix, load: {profile: exp.yaml, target: nobody}}",
         ":6: criteria.1.matrix.load.target: no service 'nobody'"),
        (f"{{surfaces: mini-matrix, faults: [explode], {LOAD}}}", ":6: criteria.1.matrix.faults.0: "),
        (f"{{surfaces: mini-matrix, window: 0s, {LOAD}}}", ":6: criteria.1.matrix.window: "),
    ]
    for matrix, expected in cases:
        policy = write_policy(tmp_path, matrix)
        result = chaosgate("gate", str(policy), "--dry-run", "--out", str(tmp_path / "out"))
        assert result.code == 3 and result.out == "", (matrix, result.out)
        assert f"{policy}{expected}" in result.err, (matrix, result.err)
        assert "Traceback" not in result.err and not (tmp_path / "out").exists()
    # A matrix runs cells of its own: it belongs to no experiment, and has no SLI.
    policy = write_policy(tmp_path, "{surfaces: mini-matrix}", "    experiments: [exp]\n")
    result = chaosgate("gate", str(policy), "--dry-run")
    assert result.code == 3 and f"{policy}:5: criteria.1: a matrix criterion runs cells of its own" in result.err
    policy = write_policy(tmp_path, "{surfaces: mini-matrix}", "    sli: greeting.ok\n")
    result = chaosgate("gate", str(policy), "--dry-run")
    assert result.code == 3 and "blast_radius and matrix take none" in result.err, result.err
    # A surface set's own mistake is named in the surface set's file, at its line.
    bad = tmp_path / "surfaces.yaml"
    bad.write_text("greeting:\n  services: [nobody]\n  slis: {ok: {kind: gauge, metric: up}}\n")
    policy = write_policy(tmp_path, "{surfaces: surfaces.yaml}")
    result = chaosgate("gate", str(policy), "--dry-run")
    assert result.code == 3 and f"{bad}:2: greeting.services.0: no service 'nobody'" in result.err, result.err


def test_a_matrix_criterion_without_a_stack_of_its_own_needs_one_stack_among_the_experiments(tmp_path: Path) -> None:
    policy = tmp_path / "gate.yaml"
    policy.write_text(f"name: m\nexperiments: ['{ROOT / 'experiments' / 'incident-2026-02' / '*.yaml'}', "
                      f"'{tmp_path / 'exp.yaml'}']\ncriteria:\n  - name: mx\n    matrix: {{surfaces: mini-matrix}}\n")
    (tmp_path / "exp.yaml").write_text(EXPERIMENT.format(stack=MINI / "docker-compose.yml"))
    result = chaosgate("gate", str(policy), "--dry-run")
    assert result.code == 3 and f"{policy}:5: criteria.0.matrix: give 'stack' (a compose file): the policy's " \
        "experiments run on several stacks" in result.err, result.err
    policy.write_text(policy.read_text().replace("{surfaces: mini-matrix}",
                                                 f"{{surfaces: mini-matrix, stack: '{MINI / 'docker-compose.yml'}', {LOAD}}}"))
    result = chaosgate("gate", str(policy), "--dry-run", "--only", "matrix")
    assert result.code == 0 and "then matrix criterion 'mx'" in result.out, result.err
