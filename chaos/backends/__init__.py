"""Backends start a stack somewhere: `local` (processes on loopback) or `docker` (containers).

A backend is registered by name; it has `check(stack)`, `up(stack, run_dir) -> StackState`,
`status(state)` and `down(state)`.
"""

from __future__ import annotations

from collections.abc import Callable

from chaos.errors import InputError

_REGISTRY: dict[str, Callable[..., object]] = {}


def register(name: str):
    """Class decorator-free registration: `register("local")(factory)`."""

    def add(factory: Callable[..., object]) -> Callable[..., object]:
        _REGISTRY[name] = factory
        return factory

    return add


def _local(**kwargs):
    from chaos.backends.local import LocalBackend

    return LocalBackend(**kwargs)


def _docker(**kwargs):
    from chaos.backends.docker import DockerBackend

    return DockerBackend(**kwargs)


register("local")(_local)
register("docker")(_docker)


def names() -> list[str]:
    """Registered backend names."""
    return sorted(_REGISTRY)


def get(name: str, **kwargs):
    """A backend instance by name."""
    try:
        factory = _REGISTRY[name]
    except KeyError:
        raise InputError("--backend", f"unknown backend {name!r} (known: {', '.join(names())})") from None
    return factory(**kwargs)
