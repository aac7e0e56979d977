"""Fault types, registered by name (`network.latency`, `broker.hold_connections`, …), and their undos.

A fault family is one module that registers its spec classes with `@register(name)` and its
undo functions with `@register_undo(kind)`. An undo works from its journal record alone, so
`chaosgate rollback` can run it in another process after a SIGKILL.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Union

from pydantic import Field

from chaos.faults.base import Fault, FaultContext, FaultError

_FAULTS: dict[str, type[Fault]] = {}
_UNDOS: dict[str, Callable[[dict], None]] = {}
_CHECKS: dict[str, Callable[[dict], str | None]] = {}


def register(name: str) -> Callable[[type[Fault]], type[Fault]]:
    """Class decorator: make a fault spec available under its `type` name."""

    def add(cls: type[Fault]) -> type[Fault]:
        _FAULTS[name] = cls
        return cls

    return add


def register_undo(kind: str) -> Callable[[Callable[[dict], None]], Callable[[dict], None]]:
    """Decorator: the function that undoes journal records of this kind."""

    def add(fn: Callable[[dict], None]) -> Callable[[dict], None]:
        _UNDOS[kind] = fn
        return fn

    return add


def register_check(kind: str) -> Callable[[Callable[[dict], str | None]], Callable[[dict], str | None]]:
    """Decorator: a function telling whether the fault behind an undo record is really gone
    (None) or what is still in place."""

    def add(fn: Callable[[dict], str | None]) -> Callable[[dict], str | None]:
        _CHECKS[kind] = fn
        return fn

    return add


def still_in_place(undo: dict) -> str | None:
    """What of this fault is still in place, or None when it is gone."""
    check = _CHECKS.get(undo["kind"])
    return check(undo) if check else None


def rollback_undo(undo: dict) -> None:
    """Undo one recorded fault (idempotent: undoing what is already gone is fine)."""
    _UNDOS[undo["kind"]](undo)


def names() -> list[str]:
    """Registered fault type names."""
    return sorted(_FAULTS)


def union() -> Any:
    """The discriminated union of every registered fault spec, for the experiment model (a type form
    built at run time, hence Any: type checkers see `Fault` where it is used, see chaos.spec.experiment)."""
    classes = tuple(_FAULTS[n] for n in names())
    # Union over a tuple built at run time: `X | Y` syntax cannot spell it.
    return Annotated[Union[classes], Field(discriminator="type")]  # noqa: UP007


# Importing a family registers it.
from chaos.faults import broker, capacity, config, network, process, resource  # noqa: E402,F401

__all__ = ["Fault", "FaultContext", "FaultError", "names", "register", "register_check", "register_undo",
           "rollback_undo", "still_in_place", "union"]
