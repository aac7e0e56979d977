"""The blast radius map's layout: surfaces on the left, the stack's services in layers by their
links, every edge drawn; the template turns it into SVG. Meaning is in text beside every colour."""

from __future__ import annotations

import math

from pydantic import BaseModel

from chaos.measure.result import BlastRadius

NODE_W, NODE_H, GAP_X, GAP_Y, PAD = 190, 44, 70, 16, 12


class Node(BaseModel):
    id: str
    label: str
    note: str = ""
    x: float
    y: float
    kind: str  # surface | service
    state: str = "plain"  # degraded | ok | unknown | faulted | plain
    expected: bool = False
    shade: float = 0.0  # 0..1: how far it degraded


class Edge(BaseModel):
    x1: float
    y1: float
    x2: float
    y2: float
    kind: str  # rests-on | link


class RadiusMap(BaseModel):
    width: float
    height: float
    nodes: list[Node]
    edges: list[Edge]
    caption: str


def _layers(services: list[str], links: list[tuple[str, str]]) -> dict[str, int]:
    """A layer per service: callers before what they call (cycles fall where first reached)."""
    incoming = {s: 0 for s in services}
    for _, to in links:
        if to in incoming:
            incoming[to] += 1
    layer = {s: 0 for s in services if incoming[s] == 0} or {services[0]: 0} if services else {}
    frontier = list(layer)
    while frontier:
        nxt = []
        for s in frontier:
            for src, to in links:
                if src == s and to not in layer:
                    layer[to] = layer[s] + 1
                    nxt.append(to)
        frontier = nxt
    deepest = max(layer.values(), default=0)
    for s in services:
        layer.setdefault(s, deepest + 1)
    return layer


def layout(services: list[str], links: list[tuple[str, str]], surfaces: dict[str, list[str]],
           radius: BlastRadius | None, targets: list[str], expected: list[str]) -> RadiusMap:
    """Positions of every surface and service, and the edges between them."""
    impact = {s.surface: s for s in radius.surfaces} if radius else {}
    nodes: dict[str, Node] = {}
    for row, name in enumerate(surfaces):
        s = impact.get(name)
        if s is None or s.degraded is None:
            state, note = "unknown", f"unknown: cannot tell ({s.classification if s else 'not measured'})"
        elif s.degraded:
            change = s.change()
            state, note = "degraded", f"DEGRADED{' ' + change if change else ''} ({s.classification})"
        else:
            state, note = "ok", f"ok ({s.classification})"
        nodes["surface:" + name] = Node(id="surface:" + name, label=name, note=note, kind="surface", state=state,
                                        expected=name in expected,
                                        shade=1.0 if state == "degraded" and s is not None
                                        and not (s.magnitude and math.isfinite(s.magnitude))
                                        else min(1.0, (s.magnitude or 0) if s else 0),
                                        x=PAD, y=PAD + row * (NODE_H + GAP_Y))
    layer = _layers(services, links)
    rows: dict[int, int] = {}
    for svc in services:
        col = layer[svc] + 1
        row = rows.get(col, 0)
        rows[col] = row + 1
        faulted = svc in targets
        nodes["service:" + svc] = Node(id="service:" + svc, label=svc, note="FAULTED" if faulted else "service",
                                       kind="service", state="faulted" if faulted else "plain",
                                       x=PAD + col * (NODE_W + GAP_X), y=PAD + row * (NODE_H + GAP_Y))
    edges = []
    for name, rests_on in surfaces.items():
        a = nodes["surface:" + name]
        for svc in rests_on:
            b = nodes.get("service:" + svc)
            if b is not None:
                edges.append(Edge(x1=a.x + NODE_W, y1=a.y + NODE_H / 2, x2=b.x, y2=b.y + NODE_H / 2, kind="rests-on"))
    for src, to in links:
        start, end = nodes.get("service:" + src), nodes.get("service:" + to)
        if start is not None and end is not None:
            forward = end.x > start.x
            edges.append(Edge(x1=start.x + (NODE_W if forward else 0), y1=start.y + NODE_H / 2,
                              x2=end.x + (0 if forward else NODE_W), y2=end.y + NODE_H / 2, kind="link"))
    width = max(n.x for n in nodes.values()) + NODE_W + PAD if nodes else 200
    height = max(n.y for n in nodes.values()) + NODE_H + PAD if nodes else 60
    if radius is None:
        caption = "No blast radius was measured (the run ended before its fault phase)."
    else:
        verdict = {True: "contained", False: "NOT contained",
                   None: "unknown (a surface could not be told within its tolerance)"}[radius.contained]
        caption = (f"Radius beyond the faulted {', '.join(targets) or 'services'}: "
                   f"{', '.join(radius.radius) or 'none'}; expected: {', '.join(expected) or 'none'} — {verdict}; "
                   f"score {radius.score:g} of 100.")
    return RadiusMap(width=width, height=height, nodes=list(nodes.values()), edges=edges, caption=caption)
