"""The generated reference pages (scripts/docs_reference.py) cover every command, file field and fault type."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from chaos import faults
from chaos.cli.main import build_parser
from chaos.spec.experiment import Experiment

ROOT = Path(__file__).resolve().parent.parent


def _load_hook() -> ModuleType:
    # scripts/ is no package: load the file as mkdocs does, registered so its dataclass can resolve names.
    spec = importlib.util.spec_from_file_location("docs_reference", ROOT / "scripts" / "docs_reference.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


ref = _load_hook()


@pytest.fixture(scope="module")
def pages() -> dict[str, str]:
    return ref.pages()


def _sections(page: str, marker: str) -> dict[str, str]:
    """Heading text -> the markdown under it, for headings starting with `marker`."""
    found: dict[str, str] = {}
    for chunk in page.split("\n" + marker)[1:]:
        heading, _, body = chunk.partition("\n")
        found[heading.strip()] = body
    return found


def test_every_subcommand_has_its_section_with_every_option(pages: dict[str, str]) -> None:
    sections = _sections(pages[ref.CLI_PAGE], "## ")
    commands = ref.subcommands(build_parser())
    assert {name for name, _, _ in commands} >= {"run", "gate", "schema", "inject", "heal", "load"}
    for name, _, parser in commands:
        body = sections[f"`chaosgate {name}`"]
        assert f"usage: chaosgate {name}" in body
        for action in parser._actions:
            for flag in action.option_strings:
                if flag not in ("-h", "--help"):
                    assert f"`{flag}" in body, f"{name}: {flag} missing"


def test_every_registered_fault_type_has_its_section_with_its_fields(pages: dict[str, str]) -> None:
    page = pages[ref.FAULTS_PAGE]
    sections = _sections(page, "### ")
    assert faults.names(), "no fault registered"
    for name in faults.names():
        body = sections[f"`{name}`"]
        base = set(faults.Fault.model_fields)
        for field, info in faults._FAULTS[name].model_fields.items():
            where = page if field in base else body  # the common fields are listed once, at the top
            assert f"| `{info.alias or field}` |" in where, f"{name}: field {field} missing"
    for family in {n.partition(".")[0] for n in faults.names()}:
        assert f"\n## {family}\n" in page


def test_every_top_level_experiment_field_is_listed(pages: dict[str, str]) -> None:
    fields = _sections(pages[ref.FORMAT_PAGES["experiment"]], "## ")["Fields"]
    for name, info in Experiment.model_fields.items():
        assert f"| `{info.alias or name}` |" in fields, name


def test_every_schema_kind_has_a_page_listing_its_fields(pages: dict[str, str]) -> None:
    kinds = ref.schema_kinds(build_parser())
    assert set(kinds) == set(ref.FORMAT_PAGES) == set(ref.SCHEMA_MODELS)
    for kind in kinds:
        page = pages[ref.FORMAT_PAGES[kind]]
        for name in ref.schema_printed(kind)["properties"]:
            assert f"| `{name}` |" in page, f"{kind}: {name} missing"
        assert f"??? note \"`chaosgate schema {kind}`\"" in page  # the raw schema, collapsed


def test_schema_models_print_what_the_command_prints() -> None:
    # The pages read durations and factory defaults off these models: they must be the command's.
    for kind in ref.SCHEMA_MODELS:
        assert ref.schema_model(kind).model_json_schema(by_alias=True) == ref.schema_printed(kind)


def test_durations_and_factory_defaults_are_shown(pages: dict[str, str]) -> None:
    page = pages[ref.FORMAT_PAGES["experiment"]]
    phases = _sections(page, "## ")["Phases"]
    assert "| `baseline` | [duration](#durations) | **required** |" in phases
    assert "| `variables` | map of string to string | `{}` |" in page


def test_every_generated_page_is_in_the_nav(pages: dict[str, str]) -> None:
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    assert "scripts/docs_reference.py" in config["hooks"]

    def leaves(node: object) -> list[str]:
        if isinstance(node, str):
            return [node]
        if isinstance(node, list):
            return [leaf for item in node for leaf in leaves(item)]
        if isinstance(node, dict):
            return [leaf for value in node.values() for leaf in leaves(value)]
        return []

    assert set(pages) <= set(leaves(config["nav"]))


def test_type_rendering() -> None:
    links = {"Load": "#load"}
    assert ref.type_of({"anyOf": [{"$ref": "#/$defs/Load"}, {"type": "null"}]}, links) == "[Load](#load) or null"
    assert ref.type_of({"type": "array", "items": {"type": "string"}}, {}) == "list of string"
    assert ref.type_of({"enum": ["local", "docker"]}, {}) == '`"local"` or `"docker"`'
    assert ref.constraints({"minItems": 1, "maximum": 5}) == ["≤ 5", "not empty"]
    assert ref.cell("a | b\nc") == r"a \| b c"
