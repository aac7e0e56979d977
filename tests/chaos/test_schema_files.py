"""`chaosgate schema` is what editors validate files with: the shipped files, the README's and the
docs' examples pass it, durations (`20s`, `4m`, `1m30s`) and shares (`5%`) included, and what
chaosgate refuses (`20 parsecs`, `-5s`) it refuses too. Checked with a JSON Schema validator, as an
editor would, not with pydantic; no stack is started."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from chaos.gate.policy import AMOUNT_PATTERN, SHARE_PATTERN, GatePolicy, VsBaseline
from chaos.gate.waivers import WaiverFile
from chaos.spec.experiment import Experiment
from chaos.util.durations import DURATION_PATTERN, POSITIVE_DURATION_PATTERN, parse_duration
from tests.conftest import ROOT, STACKS, chaosgate

MODELS: dict[str, type[BaseModel]] = {"experiment": Experiment, "policy": GatePolicy, "waivers": WaiverFile}


class _EditorLoader(yaml.SafeLoader):
    """YAML as an editor's language server reads it: YAML 1.2 has no timestamps, so `2026-12-31`
    stays a string (PyYAML, YAML 1.1, would make it a date, which is no JSON value)."""


_EditorLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}


def editor_yaml(text: str) -> Any:
    return yaml.load(text, Loader=_EditorLoader)  # a SafeLoader subclass: safe


@pytest.fixture(scope="module")
def schemas() -> dict[str, dict[str, Any]]:
    """What `chaosgate schema KIND` prints, for each kind."""
    printed = {}
    for kind in MODELS:
        result = chaosgate("schema", kind)
        assert result.code == 0, result.err
        printed[kind] = json.loads(result.out)
    return printed


def problems(schema: dict[str, Any], instance: Any) -> list[str]:
    """What an editor would underline: every error of the instance against the schema."""
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(instance)]


# --- the schema itself ----------------------------------------------------------------------------
#: Every keyword a printed schema may use: JSON Schema 2020-12's, and OpenAPI's `discriminator`, which
#: pydantic adds to a tagged union next to its `oneOf` (validators ignore it; editors use it for hints).
KEYWORDS = {"$defs", "$ref", "additionalProperties", "anyOf", "allOf", "oneOf", "const", "default", "description",
            "enum", "examples", "exclusiveMaximum", "exclusiveMinimum", "format", "items", "maxItems", "maxLength",
            "maximum", "minItems", "minLength", "minProperties", "minimum", "pattern", "prefixItems", "properties",
            "required", "title", "type", "uniqueItems", "discriminator"}


def keywords(node: Any) -> set[str]:
    """The keywords used in a schema and every subschema (property names are not keywords)."""
    if not isinstance(node, dict):
        return set()
    found = set(node)
    for key, value in node.items():
        if key in ("properties", "$defs"):
            for sub in value.values():
                found |= keywords(sub)
        elif key in ("anyOf", "allOf", "oneOf", "prefixItems"):
            for sub in value:
                found |= keywords(sub)
        elif key in ("items", "additionalProperties"):
            found |= keywords(value)
    return found


@pytest.mark.parametrize("kind", MODELS)
def test_the_schema_is_json_schema(kind: str, schemas: dict[str, dict[str, Any]]) -> None:
    schema = schemas[kind]
    jsonschema.validators.validator_for(schema).check_schema(schema)
    # `ge`, `gt`, … are pydantic's names: an editor ignores them and would let -5% through.
    assert keywords(schema) <= KEYWORDS, keywords(schema) - KEYWORDS


# --- shipped files and documented examples --------------------------------------------------------
def shipped(kind: str) -> list[Path]:
    if kind == "experiment":
        files = [p for p in (ROOT / "experiments").rglob("*.yaml") if "surfaces" not in p.parts]
        return sorted(files) + sorted(STACKS.glob("*/experiment.yaml"))
    if kind == "policy":
        return sorted((ROOT / "gates").glob("*.yaml"))
    return sorted(p for folder in ("gates", "examples", "experiments") for p in (ROOT / folder).rglob("*waiver*.y*ml"))


@pytest.mark.parametrize("kind", MODELS)
def test_every_shipped_file_passes_its_schema(kind: str, schemas: dict[str, dict[str, Any]]) -> None:
    files = shipped(kind)
    if kind != "waivers":  # no waivers file is shipped: the docs' example stands for one (below)
        assert files, f"no shipped {kind} file found"
    for path in files:
        assert problems(schemas[kind], editor_yaml(path.read_text())) == [], path.relative_to(ROOT)


def test_every_surface_set_passes_the_schema_of_a_surface(schemas: dict[str, dict[str, Any]]) -> None:
    # Surface sets (experiments/surfaces/*.yaml) are no file kind of `chaosgate schema`; their values
    # are the experiment schema's inline surfaces.
    defs = schemas["experiment"]["$defs"]
    surface_set = {"type": "object", "additionalProperties": {"$ref": "#/$defs/Surface"}, "$defs": defs}
    files = sorted((ROOT / "experiments").rglob("surfaces/*.yaml"))
    assert files
    for path in files:
        assert problems(surface_set, editor_yaml(path.read_text())) == [], path.relative_to(ROOT)


def documented_blocks() -> list[tuple[str, str, Any]]:
    """(where, kind, data) of every ```yaml block of the README and docs/ that is one of the file
    kinds; a fragment of an experiment (fields of one, no phases) is put into the README's."""
    blocks = []
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        for i, text in enumerate(re.findall(r"^```yaml\n(.*?)^```", page.read_text(), re.M | re.S)):
            blocks.append((f"{page.relative_to(ROOT)} block {i + 1}", editor_yaml(text)))
    readme = next(data for where, data in blocks if where.startswith("README") and isinstance(data, dict)
                  and "phases" in data)
    experiment_fields = set(Experiment.model_json_schema(by_alias=True)["properties"])
    found = []
    for where, data in blocks:
        if not isinstance(data, dict):
            continue
        if "phases" in data:
            found.append((where, "experiment", data))
        elif "criteria" in data:
            found.append((where, "policy", data))
        elif set(data) == {"waivers"}:
            found.append((where, "waivers", data))
        elif set(data) <= experiment_fields and "services" not in data:  # not a compose file
            found.append((where, "experiment", {**copy.deepcopy(readme), **data}))
    return found


def test_the_readme_and_docs_examples_pass_their_schemas(schemas: dict[str, dict[str, Any]]) -> None:
    found = documented_blocks()
    where = {(w.split(" block")[0], kind) for w, kind, _ in found}
    assert {("README.md", "experiment"), ("docs/guides/experiments.md", "experiment"),
            ("docs/guides/gate.md", "policy"), ("docs/guides/gate.md", "waivers"),
            ("docs/guides/measurement.md", "experiment")} <= where, where
    for place, kind, data in found:
        assert problems(schemas[kind], data) == [], place


# --- what the schema says about durations, shares and amounts, and that chaosgate agrees ----------
EXPERIMENT = {"name": "snippet", "stack": "docker-compose.yml", "surfaces": "default",
              "phases": {"baseline": "10s", "fault": "20s"}}
POLICY = {"name": "snippet", "experiments": ["e.yaml"],
          "criteria": [{"name": "runs", "sli": "runs.success_ratio", "vs_baseline": {"allowed": "5%"}}]}


def with_value(base: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """`base` with `value` at a dotted path (a number is a list index)."""
    data = copy.deepcopy(base)
    *parents, last = path.split(".")
    node: Any = data
    for part in parents:
        node = node[int(part)] if part.isdigit() else node.setdefault(part, {})
    node[last] = value
    return data


GOOD = [
    ("experiment", "phases.fault", "20s"), ("experiment", "phases.fault", "4m"),
    ("experiment", "phases.fault", "1m30s"), ("experiment", "phases.fault", "1m 30s"),
    ("experiment", "phases.warmup", "500ms"), ("experiment", "phases.warmup", 0),
    ("experiment", "phases.baseline", 2.5), ("experiment", "deadline", "4m"), ("experiment", "deadline", "0.5s"),
    ("experiment", "sample_interval", 1), ("experiment", "stop_conditions",
                                            [{"sli": "runs.success_ratio", "below": 0.5, "for": "5s"}]),
    ("experiment", "faults", [{"type": "network.latency", "link": "a -> b", "latency_ms": 100, "start": "5s",
                               "duration": "1m30s"}]),
    ("policy", "criteria.0.vs_baseline", {"allowed": "5%", "floor": "1s"}),
    ("policy", "criteria.0.vs_baseline", {"allowed": "20 %", "floor": 0.01}),
    ("policy", "criteria.0.vs_baseline", {"allowed": 0.2, "floor": "250ms"}),
    ("policy", "criteria.0.vs_baseline", {"allowed": "0%", "floor": "0.1"}),
    ("policy", "criteria.0.warn_band", "10%"), ("policy", "criteria.0.warn_band", "1s"),
    ("policy", "criteria.0.warn_band", 0.05),
    ("policy", "window", "2s"), ("policy", "look_every", 1.5),
]
BAD = [
    ("experiment", "phases.fault", "20 parsecs"), ("experiment", "phases.fault", "-5s"),
    ("experiment", "phases.fault", -5), ("experiment", "phases.fault", "20"), ("experiment", "phases.fault", True),
    ("experiment", "phases.fault", "1h-5m"), ("experiment", "phases.fault", "1.5.0s"),
    ("experiment", "deadline", 0), ("experiment", "deadline", "0s"), ("experiment", "deadline", "0m0.0s"),
    ("experiment", "faults", [{"type": "network.latency", "link": "a -> b", "latency_ms": 100, "start": "-5s"}]),
    ("policy", "criteria.0.vs_baseline", {"allowed": "-5%"}), ("policy", "criteria.0.vs_baseline", {"allowed": -0.1}),
    ("policy", "criteria.0.vs_baseline", {"allowed": "5 percent"}),
    ("policy", "criteria.0.vs_baseline", {"allowed": "0.05"}),  # a share as a string needs its %
    ("policy", "criteria.0.vs_baseline", {"floor": -1}), ("policy", "criteria.0.vs_baseline", {"floor": "-1s"}),
    ("policy", "criteria.0.vs_baseline", {"floor": "1 parsec"}), ("policy", "criteria.0.vs_baseline", {"floor": None}),
    ("policy", "criteria.0.warn_band", "10 parsecs"),
    ("policy", "window", "0s"), ("policy", "window", "-2s"),
]


@pytest.mark.parametrize("kind,path,value", GOOD, ids=[f"{p}={v!r}" for _, p, v in GOOD])
def test_a_value_chaosgate_takes_passes_the_schema(kind: str, path: str, value: Any,
                                                   schemas: dict[str, dict[str, Any]]) -> None:
    data = with_value(EXPERIMENT if kind == "experiment" else POLICY, path, value)
    MODELS[kind].model_validate(data)  # chaosgate takes it (its own checks against files aside)
    assert problems(schemas[kind], data) == []


@pytest.mark.parametrize("kind,path,value", BAD, ids=[f"{p}={v!r}" for _, p, v in BAD])
def test_a_value_chaosgate_refuses_fails_the_schema(kind: str, path: str, value: Any,
                                                    schemas: dict[str, dict[str, Any]]) -> None:
    data = with_value(EXPERIMENT if kind == "experiment" else POLICY, path, value)
    with pytest.raises(ValidationError):  # a located error, never a traceback (floor: null was a TypeError)
        MODELS[kind].model_validate(data)
    assert problems(schemas[kind], data) != []


# Newlines are left out: Python's `$` (which the jsonschema library uses) also matches before a final
# newline, where an editor's ECMA-262 `$` does not; YAML scalars seldom end in one.
SPELLINGS = st.text(alphabet="0123456789.smuh% -x", max_size=9)


@settings(max_examples=600, deadline=None)
@given(SPELLINGS)
def test_the_duration_pattern_is_the_parser_s_grammar(text: str) -> None:
    try:
        seconds: float | None = parse_duration(text)
    except ValueError:
        seconds = None
    assert (re.search(DURATION_PATTERN, text) is not None) == (seconds is not None), text
    assert (re.search(POSITIVE_DURATION_PATTERN, text) is not None) == (seconds is not None and seconds > 0), text


@settings(max_examples=600, deadline=None)
@given(SPELLINGS)
def test_the_share_and_amount_patterns_are_the_validators_grammars(text: str) -> None:
    for field, pattern in (("allowed", SHARE_PATTERN), ("floor", AMOUNT_PATTERN)):
        try:
            VsBaseline.model_validate({field: text})
            taken = True
        except ValidationError:
            taken = False
        assert (re.search(pattern, text) is not None) == taken, (field, text)


def test_a_bound_of_the_field_reaches_the_number_and_the_string(schemas: dict[str, dict[str, Any]]) -> None:
    defs = schemas["experiment"]["$defs"]
    grace = defs["Restart"]["properties"]["grace"]["anyOf"]
    assert grace == [{"type": "number", "minimum": 0, "maximum": 120},
                     {"type": "string", "pattern": DURATION_PATTERN}]
    deadline = schemas["experiment"]["properties"]["deadline"]["anyOf"]
    assert deadline == [{"type": "number", "exclusiveMinimum": 0},
                        {"type": "string", "pattern": POSITIVE_DURATION_PATTERN}]
