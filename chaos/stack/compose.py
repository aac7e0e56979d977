"""Loading a stack from docker-compose.yml: interpolation, typed model, cross-checks."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from chaos.errors import InputError, InputErrors
from chaos.stack.model import Compose, Link, Service
from chaos.util.modelerrors import unknown_name
from chaos.util.yamlsource import YamlDocument, load_yaml, validate_all


@dataclass
class Stack:
    """A validated stack: its services, link graph and the variables it was resolved with."""

    path: Path
    name: str
    compose: Compose
    doc: YamlDocument
    variables: dict[str, str] = field(default_factory=dict)

    @property
    def services(self) -> dict[str, Service]:
        return self.compose.services

    def links(self) -> list[tuple[str, Link]]:
        """Every (service, link) pair, in file order."""
        return [(name, link) for name, svc in self.services.items() for link in svc.x_chaosgate.links]

    def link_name(self, service: str, link: Link) -> str:
        """The proxy name of a link: its own name, or 'service->dependency'."""
        return link.name or f"{service}->{link.to}"

    def start_order(self) -> list[str]:
        """Services in an order where each comes after everything it depends on."""
        order: list[str] = []
        seen: set[str] = set()

        def visit(name: str) -> None:
            if name in seen:
                return
            seen.add(name)
            for dep in self.services[name].dependencies():
                visit(dep)
            order.append(name)

        for name in self.services:
            visit(name)
        return order


def load_stack(path: Path | str, overrides: Mapping[str, str] | None = None,
               use_environ: bool = True) -> Stack:
    """Read, interpolate, validate and cross-check a compose file; InputError(s) when broken."""
    path = Path(path)
    doc = load_yaml(path)
    if not isinstance(doc.data, dict):
        raise InputError(path, "a compose file is a mapping with a 'services' key", 1)
    variables = {**(dict(os.environ) if use_environ else {}), **(overrides or {})}
    used: set[str] = set()
    # A service that does not fit the model is reported and left out; the rest is still cross-checked.
    compose, doc, problems = validate_all(doc, Compose, variables, used)
    if compose is None:
        raise InputErrors(problems)
    name = compose.name or path.resolve().parent.name
    stack = Stack(path, name, compose, doc, {k: variables[k] for k in sorted(used) if k in variables})
    problems += _cross_check(doc, stack)
    if problems:
        raise InputErrors(sorted(problems, key=lambda p: p.line or 0))
    return stack


def _cross_check(doc: YamlDocument, stack: Stack) -> list[InputError]:
    services = stack.services
    # A service written but left out for its own problem is not "unknown" where it is named.
    written = [str(k) for k in doc.data["services"]] if isinstance(doc.data.get("services"), dict) else []
    problems: list[InputError] = []
    if not written:
        problems.append(doc.error(["services"], "the stack has no services"))
    proxy_names: dict[str, str] = {}
    for name, svc in services.items():
        base = ["services", name]
        deps = svc.depends_on if isinstance(svc.depends_on, list) else list(svc.depends_on)
        for i, dep in enumerate(deps):
            if dep not in written:
                loc = [*base, "depends_on", i if isinstance(svc.depends_on, list) else dep]
                problems.append(doc.error(loc, "depends on " + unknown_name("service", dep, written)))
        for i, link in enumerate(svc.x_chaosgate.links):
            loc = [*base, "x-chaosgate", "links", i]
            target = services.get(link.to)
            if target is None:
                if link.to not in written:
                    problems.append(doc.error([*loc, "to"], "links to " + unknown_name("service", link.to, written)))
                continue
            if link.to == name:
                problems.append(doc.error([*loc, "to"], "a service cannot link to itself"))
            ports = target.container_ports() or _builtin_ports(target)
            if not ports:
                problems.append(doc.error([*loc, "to"], f"service {link.to!r} declares no ports"))
            elif link.port is not None and link.port not in ports:
                problems.append(doc.error([*loc, "port"], f"{link.to!r} has no port {link.port} "
                                          f"(its ports: {', '.join(map(str, ports))})"))
            proxy = stack.link_name(name, link)
            if proxy in proxy_names:
                problems.append(doc.error(loc, f"two links are both named {proxy!r}; give one a 'name'"))
            proxy_names[proxy] = name
        ext = svc.x_chaosgate
        if ext.local and ext.builtin:
            problems.append(doc.error([*base, "x-chaosgate"], "set either 'local' or 'builtin', not both"))
    if not problems:
        cycle = _find_cycle(stack)
        if cycle:
            problems.append(doc.error(_edge_location(stack, cycle), "dependency cycle: " + " -> ".join(cycle)))
    return problems


def _edge_location(stack: Stack, cycle: list[str]) -> list:
    """Where a cycle is shown: the depends_on entry of its first edge."""
    src, dst = cycle[0], cycle[1]
    deps = stack.services[src].depends_on
    return ["services", src, "depends_on", list(deps).index(dst) if isinstance(deps, list) else dst]


def _builtin_ports(svc: Service) -> list[int]:
    from chaos.components import builtin_ports

    return builtin_ports(svc.x_chaosgate.builtin)


def _find_cycle(stack: Stack) -> list[str] | None:
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(name: str) -> list[str] | None:
        state[name] = 1
        path.append(name)
        for dep in stack.services[name].dependencies():
            if state.get(dep) == 1:
                return path[path.index(dep):] + [dep]
            if dep not in state and dep in stack.services:  # one left out for its own problem ends the path
                found = visit(dep)
                if found:
                    return found
        state[name] = 2
        path.pop()
        return None

    for name in stack.services:
        if name not in state:
            found = visit(name)
            if found:
                return found
    return None
