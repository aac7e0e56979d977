"""Compose-style `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?message}` and `$$`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_TOKEN = re.compile(r"\$(?:(\$)|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))")


class InterpolationError(ValueError):
    """A `${VAR:?message}` whose variable is unset, or a malformed `${...}`."""


def interpolate(value: Any, variables: Mapping[str, str], used: set[str] | None = None) -> Any:
    """`value` with variables substituted in every string, recursively."""
    if isinstance(value, str):
        return _one(value, variables, used)
    if isinstance(value, list):
        return [interpolate(v, variables, used) for v in value]
    if isinstance(value, dict):
        return {k: interpolate(v, variables, used) for k, v in value.items()}
    return value


def _one(text: str, variables: Mapping[str, str], used: set[str] | None) -> str:
    def sub(m: re.Match) -> str:
        if m.group(1):
            return "$"
        name = m.group(2) or m.group(5)
        op, arg = m.group(3), m.group(4)
        if used is not None:
            used.add(name)
        value = variables.get(name)
        if op in (":-", ":?"):
            missing = not value
        else:
            missing = value is None
        if op and op.endswith("-") and missing:
            return arg or ""
        if op and op.endswith("?") and missing:
            raise InterpolationError(f"variable {name} is required: {arg or 'not set'}")
        return value or ""

    if "${" in text and not _TOKEN.search(text):
        raise InterpolationError(f"malformed variable reference in {text!r}")
    return _TOKEN.sub(sub, text)
