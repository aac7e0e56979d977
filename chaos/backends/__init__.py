"""Backends start a stack somewhere: `local` (processes on loopback) or `docker` (containers).

A backend is registered by name; it is a `chaos.backends.base.Backend`: `check(stack)`,
`up(stack, run_dir) -> StackState`, `status(state) -> {name: ServiceStatus}`, `down(state)`, and
`running`, `restart`, `respawn` for faults.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from chaos.errors import InputError

if TYPE_CHECKING:  # a backend module is imported when one is asked for, not with this package
    from chaos.backends.base import Backend

_REGISTRY: dict[str, Callable[..., Backend]] = {}


def register(name: str) -> Callable[[Callable[..., Backend]], Callable[..., Backend]]:
    """Class decorator-free registration: `register("local")(factory)`."""

    def add(factory: Callable[..., Backend]) -> Callable[..., Backend]:
        _REGISTRY[name] = factory
        return factory

    return add


def _local(**kwargs: Any) -> Backend:
    from chaos.backends.local import LocalBackend

    return LocalBackend(**kwargs)


def _docker(**kwargs: Any) -> Backend:
    from chaos.backends.docker import DockerBackend

    return DockerBackend(**kwargs)


register("local")(_local)
register("docker")(_docker)


def names() -> list[str]:
    """Registered backend names."""
    return sorted(_REGISTRY)


def get(name: str, **kwargs: Any) -> Backend:
    """A backend instance by name."""
    try:
        factory = _REGISTRY[name]
    except KeyError:
        raise InputError("--backend", f"unknown backend {name!r} (known: {', '.join(names())})") from None
    return factory(**kwargs)
