"""Typed JSON files chaosgate writes and reads back (stack.json, result.json, gate.json)."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel

from chaos.errors import InputError

M = TypeVar("M", bound=BaseModel)


def read_model(path: Path, model: type[M], missing: str) -> M:
    """The file as `model`; InputError saying `missing` when it is absent, or why it is unreadable."""
    try:
        return model.model_validate_json(path.read_text())
    except FileNotFoundError:
        raise InputError(path, missing) from None
    except ValueError as exc:
        raise InputError(path, f"unreadable {path.name}: {exc}") from None
