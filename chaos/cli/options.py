"""Option values shared by subcommands, checked with one clear message naming the option."""

from __future__ import annotations

from chaos.errors import InputError


def duration(flag: str, text: str | None) -> float | None:
    """Seconds in a positive duration option (90s, 5m, 1h); None when not given."""
    if text is None:
        return None
    from chaos.util.durations import parse_duration

    try:
        value = parse_duration(text)
    except (TypeError, ValueError) as exc:
        raise InputError(flag, f"{text!r} is not a duration (examples: 90s, 5m, 1h): {exc}") from None
    if value <= 0:
        raise InputError(flag, f"{text!r}: a duration must be positive")
    return value
