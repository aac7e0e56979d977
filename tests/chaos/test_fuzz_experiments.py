"""Property-based fuzzing of experiment files: never a traceback, never anything started;
an error is an InputError naming the file (and a line where one exists)."""

from __future__ import annotations

import copy
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chaos.errors import InputError
from chaos.spec.experiment import load_experiment
from chaos.util import procs
from tests.conftest import STACKS, chaosgate

BASE = yaml.safe_load((STACKS / "mini" / "experiment.yaml").read_text())
BASE["stack"] = str(STACKS / "mini" / "docker-compose.yml")

scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=False),
                    st.text(max_size=12), st.sampled_from(["10s", "-1s", "1m30s", "network.latency", "front->echo",
                                                           "*", "broker", "0", "${NOPE}", "${X:?boom}"]))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                        st.dictionaries(st.text(max_size=8), inner, max_size=3)),
                      max_leaves=6)


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, prefix + (i,))


ALL_PATHS = [p for p in _paths(BASE) if p]


@st.composite
def mutated(draw):
    doc = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(ALL_PATHS))
        parent = doc
        try:
            for part in path[:-1]:
                parent = parent[part]
            action = draw(st.sampled_from(["replace", "delete", "add"]))
            if action == "replace":
                parent[path[-1]] = draw(values)
            elif action == "delete" and isinstance(parent, dict):
                parent.pop(path[-1], None)
            elif isinstance(parent, dict):
                parent[draw(st.text(min_size=1, max_size=8))] = draw(values)
        except (KeyError, IndexError, TypeError):
            continue
    return doc


def _check(path: Path) -> None:
    before = dict(procs._children)
    try:
        load_experiment(path)
    except InputError as exc:
        assert str(exc).startswith(str(path)), str(exc)
    assert procs._children == before, "nothing was started"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=mutated())
def test_mutated_experiments_fail_cleanly(doc, tmp_path: Path) -> None:
    path = tmp_path / "experiment.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    _check(path)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=200))
def test_arbitrary_text_fails_cleanly(text: str, tmp_path: Path) -> None:
    path = tmp_path / "experiment.yaml"
    path.write_text(text)
    _check(path)


def test_cli_reports_every_problem_located_and_exits_3(tmp_path: Path) -> None:
    doc = copy.deepcopy(BASE)
    doc["faults"][0]["latency_ms"] = "slow"
    doc["faults"][2]["link"] = "front -> nowhere"
    doc["phases"]["fault"] = "soon"
    path = tmp_path / "experiment.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    run = chaosgate("validate", str(path))
    assert run.code == 3 and "Traceback" not in run.err
    assert f"{path}:" in run.err and "phases.fault" in run.err
    fixed = copy.deepcopy(BASE)
    fixed["faults"][2]["link"] = "front -> nowhere"
    path.write_text(yaml.safe_dump(fixed, sort_keys=False))
    run = chaosgate("validate", str(path))
    assert run.code == 3 and "faults.2.link: no link matches 'front -> nowhere'" in run.err
    lines = path.read_text().splitlines()
    reported = int(run.err.split(f"{path}:")[1].split(":")[0])
    assert "nowhere" in lines[reported - 1], "the line named is the one with the bad link"
