"""The command itself: version, help, module entry point."""

from __future__ import annotations

from chaos import __version__
from tests.conftest import chaosgate


def test_version() -> None:
    result = chaosgate("--version")
    assert result.code == 0 and result.out.strip() == f"chaosgate {__version__}"


def test_help_lists_every_subcommand_with_a_line() -> None:
    result = chaosgate("--help")
    assert result.code == 0
    for command in ("stack", "run", "validate", "schema", "rollback"):
        line = next((ln for ln in result.out.splitlines() if ln.strip().startswith(command + " ")), "")
        assert len(line.split()) > 2, f"{command} has a help line"


def test_no_command_prints_help_and_exits_3() -> None:
    result = chaosgate()
    assert result.code == 3 and "usage: chaosgate" in result.out


def test_bad_set_is_an_input_error(tmp_path) -> None:
    result = chaosgate("stack", "up", "--set", "NOEQUALS", "-f", "tests/stacks/mini/docker-compose.yml",
                       "--out", str(tmp_path))
    assert result.code == 3 and "'NOEQUALS' is not VAR=VALUE" in result.err


def test_schema_is_json_schema_with_every_fault_type() -> None:
    import json

    from chaos import faults

    result = chaosgate("schema")
    assert result.code == 0
    schema = json.loads(result.out)
    text = json.dumps(schema)
    assert schema["title"] == "Experiment" and "phases" in schema["required"]
    assert all(f'"{name}"' in text for name in faults.names())


def test_every_shipped_experiment_validates() -> None:
    from tests.conftest import ROOT

    files = sorted(str(p) for p in (ROOT / "experiments").rglob("*.yaml") if "surfaces" not in p.parts)
    assert files
    result = chaosgate("validate", *files)
    assert result.code == 0, result.err


def test_capacity_fill_needs_a_declared_hook(tmp_path) -> None:
    from tests.conftest import ROOT

    exp = tmp_path / "fill.yaml"
    exp.write_text(f"name: fill\nstack: {ROOT / 'docker-compose.yml'}\n"
                   "phases: {warmup: 1s, baseline: 1s, fault: 2s, recovery: 1s}\n"
                   "faults:\n  - {type: capacity.fill, service: scheduler, slots: 3}\n"
                   "surfaces: runstack-default\n")
    result = chaosgate("validate", str(exp))
    assert result.code == 3
    assert f"{exp}:5: faults.0.service: service 'scheduler' declares no x-chaosgate.capacity hook" in result.err
    assert "shared-pool, run-pool" in result.err


def test_a_fault_this_host_cannot_carry_out_is_refused_before_anything_starts(tmp_path) -> None:
    from tests.conftest import ROOT

    exp = tmp_path / "cpu.yaml"
    exp.write_text(f"name: cpu\nstack: {ROOT / 'docker-compose.yml'}\n"
                   "phases: {warmup: 1s, baseline: 1s, fault: 2s, recovery: 1s}\n"
                   "faults:\n  - {type: resource.cpu, service: scheduler, cpus: 0.2}\n"
                   f"surfaces: {{s: {{services: [scheduler], slis: {{up: {{kind: gauge, metric: up}}}}}}}}\n")
    # A host without the cgroup v1 cpu controller (where it is said to be) cannot limit local processes.
    nowhere = {"CHAOSGATE_CPU_CGROUP": str(tmp_path / "no-cgroup")}
    local = chaosgate("run", str(exp), "--dry-run", env=nowhere)
    assert local.code == 3
    assert (f"{exp}:5: faults.0.type: resource.cpu on the local backend needs the cgroup v1 cpu controller "
            f"at {tmp_path / 'no-cgroup'}") in local.err
    assert "Traceback" not in local.err
    assert chaosgate("run", str(exp), "--dry-run", "--backend", "docker", env=nowhere).code == 0


def test_every_argument_says_what_it_is_and_options_name_their_value() -> None:
    import argparse

    from chaos.cli.main import build_parser

    parser = build_parser()
    subs = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    helps = {a.dest: a.help for a in subs._choices_actions}
    for name, sub in subs.choices.items():
        assert sub.description or name in ("inject", "heal", "load"), f"{name} has no description"
        assert helps.get(name), f"{name} has no one-line help"
        for action in sub._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            assert action.help, f"{name} {action.option_strings or action.dest} has no help"
            takes_value = action.option_strings and action.nargs != 0 and action.choices is None
            # The game-day commands' own parser (chaos/cli/gameday.py) names its values elsewhere.
            if takes_value and name not in ("inject", "heal", "load"):
                assert action.metavar, f"{name} {action.option_strings[0]} shows argparse's placeholder"
            if isinstance(action, argparse._AppendAction):
                assert "repeatable" in action.help, f"{name} {action.option_strings[0]}: say it is repeatable"


def test_progress_to_a_reader_that_went_away_never_stops_the_work() -> None:
    # A gate whose parent died: its stderr is a pipe nobody reads. A progress line raised
    # BrokenPipeError and aborted the kept stack's stop at its first "stopping" line.
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    read, write = os.pipe()
    os.close(read)
    child = subprocess.run([sys.executable, "-c", "from chaos.cli.main import say\n"
                            "for i in range(3):\n    say(f'stopping service {i}')\nprint('all stopped')"],
                           stderr=write, stdout=subprocess.PIPE, text=True, timeout=60, cwd=str(ROOT))
    os.close(write)
    assert child.returncode == 0 and child.stdout.strip() == "all stopped", child
