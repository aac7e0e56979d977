"""Pure logic of the run stack: the seeded catalogue and the telemetry releases' graph walk."""

from __future__ import annotations

import sys
import threading

import pytest

from runstack import telemetry
from runstack.catalogue import catalogue
from tests.conftest import ROOT as ROOT_DIR


def test_catalogue_is_deterministic_and_about_a_quarter_triggers() -> None:
    a, b = catalogue(2026), catalogue.__wrapped__(2026)
    assert a == b
    projects = list(a.projects.values())
    share = sum(p.triggers_rc1 for p in projects) / len(projects)
    assert 0.15 <= share <= 0.35
    assert any(p.cross_project_refs for p in projects) and not all(p.cross_project_refs for p in projects)
    assert catalogue(7) != a


def _projects(trigger: bool):
    return [p for p in catalogue(2026).projects.values() if p.triggers_rc1 == trigger]


@pytest.mark.parametrize("release", ["1.4.2", "1.5.0-rc1", "1.5.0-rc2"])
def test_walk_ends_for_projects_without_the_trigger(release: str) -> None:
    for project in _projects(False)[:5]:
        assert telemetry.walk(project, release, threading.Event()) > 0


@pytest.mark.parametrize("release", ["1.4.2", "1.5.0-rc2"])
def test_walk_ends_for_triggering_projects_on_good_releases(release: str) -> None:
    for project in _projects(True):
        assert telemetry.walk(project, release, threading.Event()) > 0


def _walks_until_cancelled(project, release: str, share: float = 0.05) -> None:
    """The walk is still going after 2 s, and ends as Cancelled once cancelled."""
    cancel = threading.Event()
    outcome: list[str] = []

    def run() -> None:
        try:
            telemetry.walk(project, release, cancel, share)
            outcome.append("returned")
        except telemetry.Cancelled:
            outcome.append("cancelled")

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(2.0)
    assert thread.is_alive() and outcome == [], f"{release}: still walking the cycle after 2 s"
    cancel.set()
    thread.join(5.0)
    assert outcome == ["cancelled"]


def test_rc1_walk_never_ends_for_a_triggering_project_until_cancelled() -> None:
    _walks_until_cancelled(_projects(True)[0], "1.5.0-rc1")


def test_rc3_hangs_for_about_its_share_of_projects_and_only_for_them() -> None:
    projects = list(catalogue.__wrapped__(2026, tenants=40).projects.values())  # 400: a share is visible
    for share in (0.05, 0.2):
        hung = [p for p in projects if telemetry.loops(p, "1.5.0-rc3", share)]
        assert abs(len(hung) / len(projects) - share) < 0.04, (share, len(hung))
    legacy = next(p for p in projects if telemetry.loops(p, "1.5.0-rc3", 0.05))
    fine = next(p for p in projects if not telemetry.loops(p, "1.5.0-rc3", 0.05))
    assert telemetry.walk(fine, "1.5.0-rc3", threading.Event(), 0.05) > 0
    assert telemetry.walk(legacy, "1.5.0-rc3", threading.Event(), 0.0) > 0  # share 0: rc2's walk for all
    _walks_until_cancelled(legacy, "1.5.0-rc3", 0.05)


def _replay_table_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("replay_table", ROOT_DIR / "scripts" / "replay_table.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["replay_table"] = module  # pydantic resolves the models' annotations through it
    spec.loader.exec_module(module)
    return module


def test_the_replay_table_shows_counts_with_denominators_and_replaces_only_its_section(tmp_path) -> None:
    rt = _replay_table_module()
    col = rt.Column(config=rt.CONFIGS[0], runs=["a", "b"], cells={s.sli: rt.Cell(count=0, total=10) for s in rt.SYMPTOMS})
    col.cells["runs.internal_error_share"] = rt.Cell(count=7, total=158, unread=1)
    col.problems.append("publications-instability: aborted (deadline)")
    table = rt.render([col], "python scripts/replay_table.py", 600)
    assert "| runs fail with `Internal error` before any step | **7** / 158 runs (1 unread) |" in table
    assert "0 / 10 launches" in table and "rc1 as shipped: publications-instability: aborted (deadline)." in table
    assert "by `python scripts/replay_table.py` (in 10 min): 2 runs" in table
    readme = tmp_path / "README.md"
    readme.write_text(f"before\n{rt.START}\nold table\n{rt.END}\nafter\n")
    rt.write_readme(table, readme)
    text = readme.read_text()
    assert text.startswith("before\n") and text.endswith("after\n") and "old table" not in text and "**7**" in text
    readme.write_text("no markers\n")
    try:
        rt.write_readme(table, readme)
    except SystemExit as exc:
        assert "markers" in str(exc)
    else:
        raise AssertionError("a README without markers is refused")
