"""Durations as people write them in YAML ("500ms", "10s", "1m30s", "5m", 2.5)."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BeforeValidator

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|us|h|m|s)")
_UNIT = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(value: object) -> float:
    """Seconds in `value`: a number (seconds) or a string of number+unit parts."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or a string like 10s, 1m30s, 500ms")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().replace(" ", "")
        pos, seconds = 0, 0.0
        for match in _PART.finditer(text):
            if match.start() != pos:
                break
            seconds += float(match.group(1)) * _UNIT[match.group(2)]
            pos = match.end()
        if not text or pos != len(text):
            raise ValueError(f"{value!r} is not a duration (examples: 10s, 1m30s, 500ms)")
    else:
        raise ValueError("a duration is a number of seconds or a string like 10s, 1m30s, 500ms")
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return seconds


Duration = Annotated[float, BeforeValidator(parse_duration)]
