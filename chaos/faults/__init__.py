"""Fault types, registered by name (`network.latency`, `broker.hold_connections`, …), and their undos.

A fault family is one module that registers its spec classes with `@register(name)` and its undo
records (pydantic models with a `kind` literal) with `@register_undo`. An undo works from its
journal record alone, so `chaosgate rollback` can run it in another process after a SIGKILL.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar, Union

from pydantic import Field

from chaos.faults.base import Fault, FaultContext, FaultError, Undo, UnknownUndo

_FAULTS: dict[str, type[Fault]] = {}
_UNDOS: dict[str, type[Undo]] = {}

UndoT = TypeVar("UndoT", bound=Undo)


def register(name: str) -> Callable[[type[Fault]], type[Fault]]:
    """Class decorator: make a fault spec available under its `type` name."""

    def add(cls: type[Fault]) -> type[Fault]:
        _FAULTS[name] = cls
        return cls

    return add


def register_undo(cls: type[UndoT]) -> type[UndoT]:
    """Class decorator: journal records whose `kind` is the class's `kind` default are read as `cls`."""
    kind = cls.model_fields["kind"].default
    assert isinstance(kind, str) and kind, f"{cls.__name__} needs a default kind"
    _UNDOS[kind] = cls
    return cls


def parse_undo(record: dict[str, Any]) -> Undo:
    """A journal's undo record as its typed class (UnknownUndo for a kind this version lacks)."""
    cls = _UNDOS.get(str(record.get("kind", "")), UnknownUndo)
    return cls.model_validate(record)


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

__all__ = ["Fault", "FaultContext", "FaultError", "Undo", "UnknownUndo", "names", "parse_undo", "register",
           "register_undo", "union"]
