"""Post-run telemetry client, in three releases. 1.5.0-rc1 carries the incident's bug.

The client walks the project's macro/context graph to report which macros and adapter
features a run used. 1.5.0-rc1 started resolving behaviour flags: for a project that uses
`equals` and a macro reading `adapter.behavior`, dispatch resolves back to `equals`, a cycle,
and rc1's walk keeps no visited set, so it never ends. rc2 restores the visited set.

1.5.0-rc3 is the subtle one, as the incident really was ("only for projects that use" a macro):
rc2's fix, except on the legacy dispatch path, which keeps rc1's walk. Only a share of projects
take that path (TELEMETRY_RC3_SHARE, default 0.05, chosen by a hash of the project's name), so
runs stuck in telemetry accumulate slowly while the user-facing SLIs barely move.
"""

from __future__ import annotations

import hashlib
import os
import threading

import requests

from runstack.catalogue import BEHAVIOR_MACROS, TRIGGER, Project

RELEASES = ("1.4.2", "1.5.0-rc1", "1.5.0-rc2", "1.5.0-rc3")
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


def legacy_dispatch(project: Project, share: float) -> bool:
    """Whether a project takes rc3's legacy dispatch path: a stable hash of its name below `share`."""
    digest = hashlib.sha256(f"{project.tenant}/{project.name}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2 ** 64 < share


def loops(project: Project, release: str, rc3_share: float = 0.05) -> bool:
    """Whether this release's walk never ends for the project (until cancelled)."""
    if release == "1.5.0-rc1":
        return project.triggers_rc1
    return release == "1.5.0-rc3" and legacy_dispatch(project, rc3_share)


def walk(project: Project, release: str, cancel: threading.Event, rc3_share: float = 0.05) -> int:
    """Visit the graph from the project's macros; returns nodes visited (rc1 and rc3 may never return)."""
    edges = graph(project, release)
    if release == "1.5.0-rc3" and legacy_dispatch(project, rc3_share):
        edges["adapter.type"] = [project.macros[0]]  # every path reaches adapter.type: back to the start, a cycle
    keep_visited = not loops(project, release, rc3_share) and release != "1.5.0-rc1"
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


def send(project: Project, run_id: int, release: str, timeout_s: float | None, cancel: threading.Event,
         rc3_share: float = 0.05) -> int:
    """Walk the graph, then POST the payload to the collector at $TELEMETRY_ADDR.

    `timeout_s=None` is the incident's setting: no timeout on the collector call either.
    """
    steps = walk(project, release, cancel, rc3_share)
    url = f"http://{os.environ['TELEMETRY_ADDR']}/ingest"
    payload = {"run": run_id, "project": f"{project.tenant}/{project.name}", "release": release, "nodes": steps}
    requests.post(url, json=payload, timeout=timeout_s).raise_for_status()
    return steps
