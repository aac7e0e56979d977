"""Pure logic of the run stack: the seeded catalogue and the telemetry releases' graph walk."""

from __future__ import annotations

import threading

import pytest

from runstack import telemetry
from runstack.catalogue import catalogue


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


def test_rc1_walk_never_ends_for_a_triggering_project_until_cancelled() -> None:
    project = _projects(True)[0]
    cancel = threading.Event()
    outcome: list[str] = []

    def run() -> None:
        try:
            telemetry.walk(project, "1.5.0-rc1", cancel)
            outcome.append("returned")
        except telemetry.Cancelled:
            outcome.append("cancelled")

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(2.0)
    assert thread.is_alive() and outcome == [], "still walking the cycle after 2 s"
    cancel.set()
    thread.join(5.0)
    assert outcome == ["cancelled"]
