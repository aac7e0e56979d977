"""Post-run telemetry client, in three releases. 1.5.0-rc1 carries the incident's bug.

The client walks the project's macro/context graph to report which macros and adapter
features a run used. 1.5.0-rc1 started resolving behaviour flags: for a project that uses
`equals` and a macro reading `adapter.behavior`, dispatch resolves back to `equals`, a cycle,
and rc1's walk keeps no visited set, so it never ends. rc2 restores the visited set.
"""

from __future__ import annotations

import os
import threading

import requests

from runstack.catalogue import BEHAVIOR_MACROS, TRIGGER, Project

RELEASES = ("1.4.2", "1.5.0-rc1", "1.5.0-rc2")
#: Seconds between walk steps: the hang is real but gentle, so the machine stays usable.
STEP_PAUSE_S = 0.005

BASE_EDGES: dict[str, list[str]] = {
    TRIGGER: ["adapter.dispatch"],
    "adapter.dispatch": ["adapter.type"],
    "adapter.type": [],
    "adapter.behavior": ["adapter.dispatch"],
    **{m: ["adapter.behavior"] for m in BEHAVIOR_MACROS},
}


class Cancelled(Exception):
    """The guardrail (or a housekeeping cancel) stopped the walk."""


def graph(project: Project, release: str) -> dict[str, list[str]]:
    """The macro/context graph the given release builds for a project."""
    edges = {m: list(BASE_EDGES.get(m, ["adapter.type"])) for m in project.macros}
    for node, children in BASE_EDGES.items():
        edges.setdefault(node, list(children))
    if release != "1.4.2" and any(m in BEHAVIOR_MACROS for m in project.macros) and TRIGGER in project.macros:
        # Behaviour-flag resolution: dispatch of a flagged comparison goes back through `equals`.
        edges["adapter.dispatch"] = [*edges["adapter.dispatch"], TRIGGER]
    return edges


def walk(project: Project, release: str, cancel: threading.Event) -> int:
    """Visit the graph from the project's macros; returns nodes visited (rc1 may never return)."""
    edges = graph(project, release)
    keep_visited = release != "1.5.0-rc1"
    visited: set[str] = set()
    stack = list(project.macros)
    steps = 0
    while stack:
        node = stack.pop()
        steps += 1
        if keep_visited:
            if node in visited:
                continue
            visited.add(node)
        elif cancel.wait(STEP_PAUSE_S):
            raise Cancelled()
        stack.extend(edges.get(node, []))
    return steps


def send(project: Project, run_id: int, release: str, timeout_s: float | None, cancel: threading.Event) -> int:
    """Walk the graph, then POST the payload to the collector at $TELEMETRY_ADDR.

    `timeout_s=None` is the incident's setting: no timeout on the collector call either.
    """
    steps = walk(project, release, cancel)
    url = f"http://{os.environ['TELEMETRY_ADDR']}/ingest"
    payload = {"run": run_id, "project": f"{project.tenant}/{project.name}", "release": release, "nodes": steps}
    requests.post(url, json=payload, timeout=timeout_s).raise_for_status()
    return steps
