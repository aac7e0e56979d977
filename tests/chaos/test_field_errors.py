"""Pydantic's errors as a reader of the file sees them (chaos.util.modelerrors), and validation that
sets a broken part aside to check the rest (chaos.util.yamlsource.validate_all)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from chaos.spec.experiment import Experiment
from chaos.stack.model import Compose
from chaos.util.modelerrors import field_problems, unknown_name
from chaos.util.yamlsource import parse_yaml, validate_all

BASE: dict[str, Any] = {"name": "x", "stack": "s", "phases": {"baseline": 1, "fault": 1}, "surfaces": "set"}


def _problems(model: Any, data: dict) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    return [(".".join(map(str, p.path)), p.message) for p in field_problems(caught.value, data, model)]


def test_a_union_reports_the_member_the_value_s_shape_chose() -> None:
    surfaces = {"a": {"services": ["x"], "slis": {"s": {"kind": "ratio", "good": "g", "totl": "t"}}}}
    problems = _problems(Experiment, {**BASE, "surfaces": surfaces})
    assert problems == [("surfaces.a.slis.s.total", "required field is missing"),
                        ("surfaces.a.slis.s.totl", "unknown field; did you mean 'total'? (allowed: source, better, "
                                                   "tolerance, tolerance_pct, kind, good, total)")]


def test_a_value_no_member_takes_is_one_message_naming_the_shapes() -> None:
    assert _problems(Experiment, {**BASE, "load": {"profile": "p", "target": "t", "workers": "many"}}) == [
        ("load.workers", "must be a number or a list (locust workers (master/worker mode): a number on this machine, "
                         "or one per host listed), not a string")]
    assert _problems(Compose, {"services": {"a": {"build": 5}}}) == [
        ("services.a.build", "must be a mapping or a string, not a number")]


def test_a_discriminator_names_the_known_tags_at_its_own_key() -> None:
    problems = dict(_problems(Experiment, {**BASE, "faults": [{"type": "network.latncy"}, {"link": "x"}]}))
    assert problems["faults.0.type"].startswith("unknown type 'network.latncy'; did you mean 'network.latency'? "
                                                "(known: broker.connection_limit,")
    assert problems["faults.1.type"].startswith("required field is missing (one of: broker.connection_limit,")


def test_unknown_keys_list_the_allowed_ones_below_an_optional_field() -> None:
    assert _problems(Compose, {"services": {"a": {"x-chaosgate": {"health": {"url": "/"}}}}}) == [
        ("services.a.x-chaosgate.health.url", "unknown field (allowed: http, tcp)")]


def test_a_suggestion_is_made_only_for_a_close_name() -> None:
    assert unknown_name("surface", "telemetri", ["runs", "telemetry"]) == \
        "unknown surface 'telemetri'; did you mean 'telemetry'? (known: runs, telemetry)"
    assert unknown_name("SLI", "broker.nope", ["broker.connections"]) == \
        "unknown SLI 'broker.nope' (known: broker.connections)"


def test_broken_items_are_set_aside_and_the_rest_keeps_the_file_s_indices() -> None:
    text = ("name: x\nstack: s\nphases: {baseline: 1, fault: 1}\nsurfaces: set\nfaults:\n"
            "  - {type: network.latency, link: a, latencyms: 1}\n"
            "  - {type: nope}\n"
            "  - {type: network.latency, link: b, latency_ms: 1, jiter_ms: 2}\n"
            "  - {type: network.down, link: c}\n")
    doc = parse_yaml(text, "f.yaml")
    spec, view, errors = validate_all(doc, Experiment, {})
    assert spec is not None and [f.type for f in spec.faults] == ["network.latency", "network.down"]
    assert [f"{e.line}:{e.field}" for e in errors] == ["6:faults.0.latency_ms", "6:faults.0.latencyms", "7:faults.1.type",
                                                       "8:faults.2.jiter_ms"]
    # The model's faults.1 is the file's faults.3: an error found later lands on the file's line.
    assert (view.error(["faults", 1, "link"], "no such link").line, view.error(["faults", 1], "x").field) == (9, "faults.3")
    assert doc.data["faults"][0]["latencyms"] == 1, "the document's own data is never cut"


def test_a_problem_that_cannot_be_set_aside_ends_the_check_with_every_problem_found() -> None:
    doc = parse_yaml("name: x\nstack: s\nsurfaces: set\nphases: {baseline: 1, fault: 1x}\nfaults: [{type: nope}]\n", "f")
    spec, _, errors = validate_all(doc, Experiment, {})
    assert spec is None and [e.field for e in errors] == ["phases.fault", "faults.0.type"]
