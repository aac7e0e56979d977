"""Broken compose files: one clear located message each, exit code 3, nothing started."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import chaosgate

GOOD = """\
services:
  a:
    ports: ["8000"]
    x-chaosgate:
      local: [python, -m, http.server]
      links:
        - {to: b, env: B_ADDR}
  b:
    ports: ["8000"]
    x-chaosgate:
      local: [python, -m, http.server]
"""

BROKEN = {
    "bad yaml": (GOOD.replace("ports: [\"8000\"]\n    x-chaosgate", "ports: [\"8000\"\n    x-chaosgate", 1),
                 4, "invalid YAML"),
    "unknown key": (GOOD.replace("  b:\n    ports", "  b:\n    portz: [1]\n    ports"), 9,
                    "services.b.portz: unknown field"),
    "unknown key below an optional section": (GOOD.replace("      links:", "      health: {url: /}\n      links:"), 6,
                                              "services.a.x-chaosgate.health.url: unknown field (allowed: http, tcp)"),
    "wrong shape in a union": (GOOD.replace('ports: ["8000"]', "ports: [\"8000\"]\n    build: 5", 1), 4,
                               "services.a.build: must be a mapping or a string, not a number"),
    "missing link target": (GOOD.replace("{to: b,", "{to: c,"), 7,
                            "services.a.x-chaosgate.links.0.to: links to unknown service 'c'"),
    "depends_on cycle": (GOOD.replace("  b:\n", "  b:\n    depends_on: [a]\n")
                         .replace("  a:\n", "  a:\n    depends_on: [b]\n"), 3,
                         "services.a.depends_on.0: dependency cycle: a -> b -> a"),
    "wrong type": (GOOD.replace('ports: ["8000"]', "ports: {a: 1}", 1), 3, "services.a.ports"),
    "bad port": (GOOD.replace('ports: ["8000"]', 'ports: ["http"]', 1), 3, "is not a port"),
    "required variable": (GOOD.replace("B_ADDR}", "B_ADDR}\n    environment: {X: '${NEEDED:?set NEEDED}'}"),
                          None, "variable NEEDED is required: set NEEDED"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_compose_gets_one_located_message(case: str, tmp_path: Path, out: Path) -> None:
    text, line, message = BROKEN[case]
    compose = tmp_path / "docker-compose.yml"
    compose.write_text(text)
    result = chaosgate("stack", "up", "-f", str(compose), "--out", str(out))
    assert result.code == 3
    assert "Traceback" not in result.err
    where = f"{compose}:{line}:" if line else f"{compose}:"
    assert where in result.err, result.err
    assert message in result.err, result.err
    assert not out.exists(), "nothing was started, no run directory was made"


def test_every_problem_is_reported_not_just_the_first(tmp_path: Path) -> None:
    compose = tmp_path / "docker-compose.yml"
    compose.write_text(GOOD.replace("{to: b,", "{to: c,").replace("  b:\n    ports", "  b:\n    depends_on: [z]\n    ports"))
    result = chaosgate("stack", "up", "-f", str(compose), "--out", str(tmp_path / "o"))
    assert result.code == 3
    assert "unknown service 'c'" in result.err and "unknown service 'z'" in result.err
    assert all(line.startswith("chaosgate: error: ") for line in result.err.splitlines()), result.err


def test_a_field_error_does_not_hide_the_reference_errors_of_the_same_file(tmp_path: Path) -> None:
    compose = tmp_path / "docker-compose.yml"
    compose.write_text(GOOD.replace("{to: b,", "{to: c,").replace("  b:\n    ports", "  b:\n    portz: [1]\n    ports"))
    result = chaosgate("validate", str(compose))
    assert result.code == 3
    assert f"{compose}:7: services.a.x-chaosgate.links.0.to: links to unknown service 'c' (known: a, b)" in result.err
    assert f"{compose}:9: services.b.portz: unknown field; did you mean 'ports'?" in result.err


def test_missing_file_is_named(tmp_path: Path) -> None:
    result = chaosgate("stack", "up", "-f", str(tmp_path / "nope.yml"), "--out", str(tmp_path / "o"))
    assert result.code == 3 and f"{tmp_path / 'nope.yml'}: file not found" in result.err


def test_service_the_local_backend_cannot_run_is_refused(tmp_path: Path) -> None:
    compose = tmp_path / "docker-compose.yml"
    compose.write_text("services:\n  web:\n    image: nginx\n    ports: ['80']\n")
    result = chaosgate("stack", "up", "-f", str(compose), "--out", str(tmp_path / "o"))
    assert result.code == 3
    assert f"{compose}:3: services.web: the local backend needs x-chaosgate.local" in result.err
