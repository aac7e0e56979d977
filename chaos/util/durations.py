"""Durations as people write them in YAML ("500ms", "10s", "1m30s", "5m", 2.5)."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

#: A number as the string grammars here write it: digits, optionally a decimal part (no sign, no exponent).
NUMBER_TEXT = r"[0-9]+(?:\.[0-9]+)?"
#: One part of a duration string: a number and its unit, spaces allowed around the unit ("1m 30s").
DURATION_PART_TEXT = rf"{NUMBER_TEXT} *(?:ms|us|h|m|s) *"
_PART = re.compile(rf"({NUMBER_TEXT}) *(ms|us|h|m|s) *")
_WHOLE = re.compile(rf" *(?:{DURATION_PART_TEXT})+")
_UNIT = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}

#: The grammar of a duration string, as a JSON Schema (ECMA-262) pattern: what parse_duration
#: accepts, exactly (both are built from the same part).
DURATION_PATTERN = rf"^ *(?:{DURATION_PART_TEXT})+$"
#: The same, for a duration that must be more than zero: a nonzero digit somewhere.
POSITIVE_DURATION_PATTERN = rf"^(?=[^1-9]*[1-9]) *(?:{DURATION_PART_TEXT})+$"


def parse_duration(value: object) -> float:
    """Seconds in `value`: a number (seconds) or a string of number+unit parts."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or a string like 10s, 1m30s, 500ms")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str):
        if not _WHOLE.fullmatch(value):
            raise ValueError(f"{value!r} is not a duration (examples: 10s, 1m30s, 500ms)")
        seconds = sum(float(m.group(1)) * _UNIT[m.group(2)] for m in _PART.finditer(value))
    else:
        raise ValueError("a duration is a number of seconds or a string like 10s, 1m30s, 500ms")
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return seconds


class DurationJsonSchema:
    """The JSON Schema of a duration: a number of seconds (≥ 0, with the field's own bounds) or a
    string in the duration grammar. Without it the schema would say `number` and editors would
    reject `10s`."""

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        number = handler(schema)  # {"type": "number"} with the field's bounds (gt=0, le=30, …)
        return duration_json_schema(number)


def duration_json_schema(number: dict[str, Any]) -> JsonSchemaValue:
    """`number` (a number's JSON Schema with the field's bounds), at least 0, or a duration string:
    a positive one when the bounds exclude zero. A string's upper bound (le=30) cannot be said in a
    pattern: chaosgate checks it when it loads the file."""
    number = dict(number)
    if "minimum" not in number and "exclusiveMinimum" not in number:
        number["minimum"] = 0
    positive = number.get("exclusiveMinimum", -1) >= 0 or number.get("minimum", 0) > 0
    return {"anyOf": [number, {"type": "string",
                               "pattern": POSITIVE_DURATION_PATTERN if positive else DURATION_PATTERN}]}


Duration = Annotated[float, BeforeValidator(parse_duration), DurationJsonSchema()]
