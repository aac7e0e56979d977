"""`chaosgate validate`: every kind of file told by its keys and checked as such; every problem of a
file at once, each on its own line and at the line it is about; messages that name what is allowed."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.conftest import ROOT, STACKS, chaosgate

MINI = STACKS / "mini"
POLICY = ROOT / "gates" / "pre-promotion.yaml"


def _errors(err: str) -> list[str]:
    return [line.removeprefix("chaosgate: error: ") for line in err.splitlines() if line.startswith("chaosgate: error:")]


def _line(path: Path, text: str) -> int:
    """The 1-based line of `path` that holds `text`."""
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def _mini_experiment(tmp_path: Path, body: str, name: str = "experiment.yaml") -> Path:
    path = tmp_path / name
    path.write_text(f"name: mini-check\nstack: {MINI / 'docker-compose.yml'}\n"
                    "phases: {warmup: 1s, baseline: 2s, fault: 4s, recovery: 1s}\n" + body)
    return path


SURFACES = """surfaces:
  echo:
    services: [echo]
    slis:
      processes: {kind: gauge, source: "echo:process", metric: process_count, agg: min, better: higher}
  broker:
    services: [broker]
    slis:
      connections: {kind: gauge, source: broker, metric: rabbitmq_connections}
"""


# --- kinds ------------------------------------------------------------------------------------------
def test_every_shipped_kind_is_told_by_its_keys_and_passes() -> None:
    files = {POLICY: "gate policy pre-promotion", ROOT / "experiments/surfaces/runstack-default.yaml": "surface set",
             ROOT / "docker-compose.yml": "stack runstack", MINI / "experiment.yaml": "experiment mini-faults"}
    result = chaosgate("validate", *map(str, files))
    assert result.code == 0, result.err
    for path, summary in files.items():
        assert f"{path}: ok: {summary}" in result.out, result.out


def test_a_policy_is_checked_as_a_policy_not_as_an_experiment(tmp_path: Path) -> None:
    result = chaosgate("validate", str(POLICY))
    assert result.code == 0 and "required field is missing" not in result.err, result.err
    assert "12 comparison(s) at alpha 0.05" in result.out and "--dry-run" in result.out


def test_a_waiver_file_is_checked_and_its_expired_waivers_are_warned_of(tmp_path: Path) -> None:
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text("waivers:\n  - {criterion: c, candidate: {A: '1'}, reason: known, owner: me, expires: 2020-01-01}\n")
    result = chaosgate("validate", str(waivers))
    assert result.code == 0 and "waiver file: 1 waiver(s), 1 expired" in result.out, result.err
    assert "expired on 2020-01-01" in result.err
    waivers.write_text("waivers:\n  - {criterion: c, candidate: {A: '1'}, reson: known, owner: me, expires: 2030-13-01}\n")
    errors = _errors(chaosgate("validate", str(waivers)).err)
    assert f"{waivers}:2: invalid value '2030-13-01': month must be in 1..12" in errors, errors


def test_a_file_of_no_known_kind_says_which_keys_each_kind_has(tmp_path: Path) -> None:
    odd = tmp_path / "odd.yaml"
    odd.write_text("foo: 1\nbar: [2]\n")
    result = chaosgate("validate", str(odd))
    assert result.code == 3
    [error] = _errors(result.err)
    assert error.startswith(f"{odd}:1: cannot tell what kind of file this is from its top-level keys (foo, bar)")
    for expected in ("a gate policy: experiments, criteria", "a waiver file: waivers", "services", "--kind"):
        assert expected in error
    forced = chaosgate("validate", "--kind", "policy", str(odd))
    assert f"{odd}:1: foo: unknown field" in forced.err and "criteria: required field is missing" in forced.err


def test_a_stack_one_backend_cannot_run_is_valid_with_a_note(tmp_path: Path) -> None:
    compose = tmp_path / "docker-compose.yml"
    compose.write_text("services:\n  web: {image: nginx, ports: ['80']}\n")
    result = chaosgate("validate", str(compose))
    assert result.code == 0 and "runs on the docker backend" in result.out
    assert "the local backend needs x-chaosgate.local" in result.err and "warning" in result.err


# --- a broken policy ---------------------------------------------------------------------------------
def test_a_broken_policy_reports_its_own_problems_and_its_experiments_at_once(tmp_path: Path) -> None:
    exp = _mini_experiment(tmp_path, SURFACES + "expected_radius: [ech]\n")
    policy = tmp_path / "gate.yaml"
    policy.write_text(f"name: g\nexperiments: [{exp.name}, missing-*.yaml]\n"
                      "criteria:\n  - name: c\n    sli: echo.processes\n    vs_baseline: {alowed: 5%}\n")
    result = chaosgate("validate", str(policy))
    assert result.code == 3 and "Traceback" not in result.err
    errors = _errors(result.err)
    assert errors == [
        f"{policy}:2: experiments.1: no experiment file matches 'missing-*.yaml'",
        f"{policy}:6: criteria.0.vs_baseline.alowed: unknown field; did you mean 'allowed'? (allowed: allowed, floor)",
        f"{exp}:13: expected_radius.0: unknown surface 'ech'; did you mean 'echo'? (known: echo, broker)",
    ], errors
    assert "1 problem" not in result.err and "3 problem(s); nothing was started" in result.err


def test_a_misspelt_key_in_one_criterion_does_not_hide_another_criterions_unknown_sli(tmp_path: Path) -> None:
    exp = _mini_experiment(tmp_path, SURFACES + "expected_radius: []\n")
    policy = tmp_path / "gate.yaml"
    policy.write_text(f"name: g\nexperiments: [{exp.name}]\n"
                      "criteria:\n  - name: c\n    sli: echo.processes\n    vs_baseline: {alowed: 5%}\n"
                      "  - name: d\n    sli: echo.nosuch\n    bound: {max: 1}\n")
    for command in (("validate", str(policy)), ("gate", str(policy), "--dry-run")):
        result = chaosgate(*command)
        assert result.code == 3 and "Traceback" not in result.err, result
        assert _errors(result.err) == [
            f"{policy}:6: criteria.0.vs_baseline.alowed: unknown field; did you mean 'allowed'? (allowed: allowed, floor)",
            f"{policy}:8: criteria.1.sli: experiment 'mini-check' has no SLI 'echo.nosuch' (known: echo.processes, "
            "broker.connections)"], (command, result.err)


# --- every problem at once, located, with what is allowed ---------------------------------------------
def test_a_field_name_error_no_longer_hides_the_reference_errors_behind_it(tmp_path: Path) -> None:
    exp = _mini_experiment(tmp_path, "faults:\n"
                           "  - {type: network.latency, link: front -> echo, latencyms: 100}\n"
                           "  - {type: network.latency, link: front -> nowhere, latency_ms: 100}\n"
                           "stop_conditions:\n  - {sli: echo.procesess, below: 1}\n"
                           + SURFACES + "expected_radius: [telemetri]\n")
    errors = _errors(chaosgate("validate", str(exp)).err)
    assert f"{exp}:5: faults.0.latencyms: unknown field; did you mean 'latency_ms'? (allowed: type, start, duration, " \
           "component, link, stream, toxicity, latency_ms, jitter_ms)" in errors, errors
    # faults.1 keeps its own index although faults.0 was set aside to check the rest.
    assert any(e.startswith(f"{exp}:6: faults.1.link: no link matches 'front -> nowhere'") for e in errors), errors
    assert (f"{exp}:8: stop_conditions.0.sli: unknown SLI 'echo.procesess'; did you mean 'echo.processes'? "
            "(known: echo.processes, broker.connections)") in errors, errors
    assert f"{exp}:18: expected_radius.0: unknown surface 'telemetri' (known: echo, broker)" in errors, errors


def test_no_internal_type_names_in_field_paths_and_each_error_at_its_own_line(tmp_path: Path) -> None:
    exp = _mini_experiment(tmp_path, SURFACES.replace("agg: min,", "agg: min, tolrance: 1,")
                           .replace("services: [broker]", "services: [broker, eccho]") + "expected_radius: []\n")
    errors = _errors(chaosgate("validate", str(exp)).err)
    assert not any("dict[" in e or ".str:" in e or ".gauge." in e for e in errors), errors
    assert any(e.startswith(f"{exp}:{_line(exp, 'tolrance')}: surfaces.echo.slis.processes.tolrance: unknown field; "
                            "did you mean 'tolerance'?") for e in errors), errors
    assert (f"{exp}:{_line(exp, 'eccho')}: surfaces.broker.services.1: unknown service 'eccho'; did you mean 'echo'? "
            "(known: broker, echo, front)") in errors, errors
    exp.write_text(exp.read_text().split("surfaces:")[0] + "surfaces: 5\n")
    errors = _errors(chaosgate("validate", str(exp)).err)
    assert errors == [f"{exp}:4: surfaces: must be a string or a mapping (a named surface set, or inline surfaces), "
                      "not a number"], errors


def test_a_broker_fault_aimed_at_a_service_that_is_not_a_broker_is_refused(tmp_path: Path) -> None:
    exp = _mini_experiment(tmp_path, "faults:\n  - {type: broker.hold_connections, service: echo, count: 3}\n"
                           + SURFACES)
    errors = _errors(chaosgate("validate", str(exp)).err)
    assert errors == [f"{exp}:5: faults.0.service: service 'echo' is not a broker: broker.hold_connections acts on "
                      "RabbitMQ (a service with x-chaosgate: {builtin: rabbitmq}, or one declaring port 15672); "
                      "brokers in this stack: broker"], errors


def test_an_sli_source_that_names_nothing_is_refused_at_its_line(tmp_path: Path) -> None:
    exp = _mini_experiment(tmp_path, SURFACES.replace("source: broker", "source: lod"))
    errors = _errors(chaosgate("validate", str(exp)).err)
    assert len(errors) == 1 and errors[0].startswith(
        f"{exp}:{_line(exp, 'lod')}: surfaces.broker.slis.connections.source: unknown source 'lod' "
        "(known: broker, echo, front)"), errors
    # A source of a process group, a broker's management API or the load is a source too.
    fine = _mini_experiment(tmp_path, SURFACES.replace("source: broker", "source: 'broker:rabbitmq'"), "fine.yaml")
    assert chaosgate("validate", str(fine)).code == 0


def test_a_surface_set_file_is_checked_at_its_own_lines(tmp_path: Path) -> None:
    (tmp_path / "surfaces").mkdir()
    sset = tmp_path / "surfaces" / "mine.yaml"
    sset.write_text(textwrap.dedent(SURFACES.removeprefix("surfaces:\n"))
                    .replace("source: broker", "source: lod").replace("agg: min,", "agg: min, tolrance: 1,"))
    exp = _mini_experiment(tmp_path, "surfaces: mine\nexpected_radius: [brokr]\n")
    errors = _errors(chaosgate("validate", str(exp)).err)
    assert [e.split(": ")[0:2] for e in errors] == [
        [f"{exp}:5", "expected_radius.0"],
        [f"{sset}:{_line(sset, 'tolrance')}", "echo.slis.processes.tolrance"],
        [f"{sset}:{_line(sset, 'lod')}", "broker.slis.connections.source"]], errors
    assert "did you mean 'broker'?" in errors[0]
    assert "surface set: 2 surface(s)" not in chaosgate("validate", str(sset)).out  # broken: not ok
    missing = _mini_experiment(tmp_path, "surfaces: mien\n", "missing.yaml")
    assert "unknown surface set 'mien'; did you mean 'mine'? (known: mine)" in chaosgate("validate", str(missing)).err


def test_a_broken_stack_is_listed_at_its_own_lines_each_line_prefixed(tmp_path: Path) -> None:
    compose = tmp_path / "docker-compose.yml"
    compose.write_text((MINI / "docker-compose.yml").read_text()
                       .replace("health: {http: /healthz}", "health: {url: /healthz}", 1)
                       .replace("- {to: echo,", "- {to: ecko,"))
    exp = tmp_path / "experiment.yaml"
    exp.write_text(_mini_experiment(tmp_path, SURFACES).read_text().replace(str(MINI / "docker-compose.yml"),
                                                                            str(compose)))
    result = chaosgate("validate", str(exp))
    assert result.code == 3
    lines = [ln for ln in result.err.splitlines() if ln.strip()]
    assert all(ln.startswith("chaosgate: ") for ln in lines), result.err
    errors = _errors(result.err)
    assert errors[0] == f"{exp}:2: stack: the stack file {str(compose)!r} has 2 problem(s), each reported at its line there"
    assert f"{compose}:{_line(compose, 'url')}: services.echo.x-chaosgate.health.url: unknown field (allowed: http, tcp)" \
        in errors, errors
    assert any(e.startswith(f"{compose}:{_line(compose, 'ecko')}: services.front.x-chaosgate.links.0.to: links to "
                            "unknown service 'ecko'; did you mean 'echo'?") for e in errors), errors


@pytest.mark.parametrize("command", [["stack", "up", "-f"], ["validate"]])
def test_a_multi_problem_report_prefixes_every_line(tmp_path: Path, command: list[str]) -> None:
    compose = tmp_path / "docker-compose.yml"
    compose.write_text("services:\n  a:\n    portz: [1]\n    depends_on: [b, c]\n")
    result = chaosgate(*command, str(compose), "--out", str(tmp_path / "o")) if command[0] == "stack" else \
        chaosgate(*command, str(compose))
    assert result.code == 3
    assert all(ln.startswith("chaosgate: ") for ln in result.err.splitlines()), result.err
    assert len(_errors(result.err)) >= 3 and not (tmp_path / "o").exists()


def test_the_keys_kinds_are_told_by_are_the_models_own() -> None:
    from chaos.gate import filecheck
    from chaos.gate.policy import GatePolicy
    from chaos.gate.waivers import WaiverFile

    for kind, model in (("policy", GatePolicy), ("waivers", WaiverFile)):
        assert filecheck.KIND_KEYS[kind] == filecheck._keys(model), kind
        assert filecheck._REQUIRED[kind] == filecheck._required(model), kind
