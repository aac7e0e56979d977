"""Pure logic: interpolation, durations, port specs, port planning, start order, YAML bounds under both loaders."""

from __future__ import annotations

import socket

import pytest

from chaos.stack.model import container_port
from chaos.util.durations import parse_duration
from chaos.util.interpolate import InterpolationError, interpolate
from chaos.util.ports import EPHEMERAL_RANGE, free_port


@pytest.mark.parametrize("text,expected", [
    ("${A}", "1"), ("${A:-x}", "1"), ("${E:-x}", "x"), ("${E-x}", ""), ("${U-x}", "x"),
    ("${U:-x}", "x"), ("$A/$A", "1/1"), ("$$A", "$A"), ("pre-${A}-post", "pre-1-post"), ("${U}", ""),
])
def test_interpolation_follows_compose(text: str, expected: str) -> None:
    assert interpolate(text, {"A": "1", "E": ""}) == expected


def test_interpolation_required_variable_and_nesting() -> None:
    with pytest.raises(InterpolationError, match="B is required: give B"):
        interpolate({"x": ["${B:?give B}"]}, {})
    used: set[str] = set()
    assert interpolate({"k": ["${A}", 3]}, {"A": "v"}, used) == {"k": ["v", 3]}
    assert used == {"A"}


@pytest.mark.parametrize("value,seconds", [("10s", 10), ("1m30s", 90), ("500ms", 0.5), (2.5, 2.5), ("2h", 7200)])
def test_durations(value: object, seconds: float) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("value", ["10", "s", "1x", "-1s", True, None, "10s5"])
def test_bad_durations(value: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(value)


@pytest.mark.parametrize("spec,port", [("8000", 8000), (8000, 8000), ("127.0.0.1:80:8000", 8000), ("8000/tcp", 8000)])
def test_container_port(spec: object, port: int) -> None:
    assert container_port(spec) == port


def test_a_port_plan_never_repeats_a_port_nor_uses_the_ephemeral_range() -> None:
    # The kernel's port-0 pick repeated a port in about 1 plan of 20 ports in 80, and two services
    # of one stack then shared a port (a CI failure: another service answered the scheduler's URL).
    ephemeral_low = int(EPHEMERAL_RANGE.read_text().split()[0])
    ports = [free_port() for _ in range(300)]
    assert len(set(ports)) == len(ports)
    assert max(ports) < ephemeral_low
    with socket.socket() as s:
        s.bind(("127.0.0.1", ports[0]))  # issued ports are bindable, not merely distinct


def test_two_processes_planning_at_once_never_plan_the_same_port() -> None:
    # Each process's own memory kept its plans apart, not another's: a gate's run-pool died on
    # "Address already in use" while a test in the other lane planned a stack of its own.
    import subprocess
    import sys

    plan = "from chaos.util.ports import free_port; print(' '.join(str(free_port()) for _ in range(600)))"
    procs = [subprocess.Popen([sys.executable, "-c", plan], stdout=subprocess.PIPE, text=True) for _ in range(3)]
    plans = [set(map(int, p.communicate(timeout=60)[0].split())) for p in procs]
    assert all(len(p) == 600 for p in plans), [len(p) for p in plans]
    assert not (plans[0] & plans[1] or plans[0] & plans[2] or plans[1] & plans[2])


LOADERS = ["libyaml", "python"]


@pytest.fixture(params=LOADERS)
def yaml_loader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each of the two YAML loaders chaosgate may use: libyaml's parser (where PyYAML has it) or
    PyYAML's own; both sit under the same bounded composer and must refuse the same way."""
    from chaos.util import yamlsource

    if request.param == "python":
        monkeypatch.setattr(yamlsource, "_BoundedLoader", yamlsource._PythonLoader)
    elif yamlsource._BoundedLoader is yamlsource._PythonLoader:
        pytest.fail("PyYAML without libyaml: the setup installs its wheel, which has it")
    return request.param


@pytest.mark.parametrize("case", ["alias bomb", "deep brackets", "deep mappings", "duplicate keys",
                                  "recursive alias", "control character"])
def test_both_yaml_loaders_refuse_hostile_text_alike(yaml_loader: str, case: str) -> None:
    from chaos.errors import InputError
    from chaos.util.yamlsource import parse_yaml
    from tests.chaos.test_hostile_input import HOSTILE

    text, expected = HOSTILE[case]
    with pytest.raises(InputError) as caught:
        parse_yaml(text, "f.yaml")
    assert expected.lstrip(":") in str(caught.value).replace("f.yaml:", ":").lstrip(":"), (yaml_loader, str(caught.value))


def test_both_yaml_loaders_locate_values_alike(yaml_loader: str) -> None:
    from chaos.util.yamlsource import parse_yaml

    doc = parse_yaml("name: x\nfaults:\n  - type: a\n    latency_ms: 3\n  - {type: b}\nmerge: &m {k: 1}\nother: *m\n", "f")
    assert doc.data["other"] == {"k": 1}
    assert [doc.line_of(["faults", 0, "latency_ms"]), doc.line_of(["faults", 1]), doc.line_of(["nope"])] == [4, 5, 1]


def test_the_library_api_is_lazy_and_every_name_resolves() -> None:
    import subprocess
    import sys

    import chaos

    assert sorted(chaos.__all__) == sorted(["__version__", *chaos._EXPORTS])
    for name in chaos._EXPORTS:
        assert getattr(chaos, name).__name__ == name
    assert chaos.compare is __import__("chaos.measure.stats", fromlist=["compare"]).compare
    # `import chaos` alone loads no other module of chaosgate's, nor pydantic: start-up must not grow.
    loaded = subprocess.run([sys.executable, "-c", "import sys, chaos; print(sorted(m for m in sys.modules "
                             "if m.startswith(('chaos.', 'pydantic'))))"], capture_output=True, text=True, timeout=60)
    assert loaded.stdout.strip() == "[]", loaded.stdout + loaded.stderr


def test_infrastructure_and_fault_failures_are_in_the_error_tree() -> None:
    # Outside the tree, the engine reports an exception as chaosgate's own bug ("internal error").
    from chaos.components.cgroups import CgroupError
    from chaos.errors import ChaosgateError, InfraError
    from chaos.faults.base import FaultError
    from chaos.measure.metrics.sources import SourceError
    from chaos.util.wire import WireError

    assert all(issubclass(e, InfraError) for e in (CgroupError, SourceError, WireError))
    assert issubclass(FaultError, ChaosgateError) and not issubclass(FaultError, InfraError)


def test_how_a_child_ended_names_its_exit_code_or_signal(tmp_path) -> None:
    import signal
    import time

    from chaos.util.procs import how_it_ended, is_alive, signal_group, spawn

    exits = spawn("exits", ["sh", "-c", "exit 3"], {}, tmp_path / "logs" / "exits.log")
    sleeps = spawn("sleeps", ["sleep", "30"], {}, tmp_path / "logs" / "sleeps.log")
    assert how_it_ended(sleeps) == "still running"
    signal_group(sleeps, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while (is_alive(exits) or is_alive(sleeps)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert how_it_ended(exits) == "exit code 3"
    assert how_it_ended(sleeps) == "killed by SIGKILL"


def test_a_gate_summary_leads_with_the_decisive_reasons_and_folds_the_not_run() -> None:
    from chaos.gate.outputs import summary
    from chaos.gate.verdict import NOT_RUN_EARLY, GateVerdict

    reasons = ["FAIL: runs stay healthy [hang]: worse by 0.3", *(f"INCONCLUSIVE: c{i} [x{i}]: x{i}: {NOT_RUN_EARLY}"
                                                                  for i in range(12))]
    v = GateVerdict.model_construct(policy="p", gate_id="g", verdict="FAIL", exit_code=1, reasons=reasons,
                                    baseline={}, candidate={}, criteria=[], runs=[], correction="", alpha=0.05,
                                    seed=0, fail_fast=True, stopped_early="runs stay healthy failed", waivers=[], warnings=[], wall_s=1.0,
                                    declared_s=1.0, stack_reuse=None)
    lead, folded = v.split_reasons()
    assert lead == reasons[:1] and len(folded) == 12
    text = summary(v)
    assert text.index("- FAIL: runs stay healthy") < text.index("<details><summary>12 more: not judged")
