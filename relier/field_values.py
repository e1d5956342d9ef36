"""Numbers and text read from Redis fields, never raising whatever bytes a field holds.

Anyone who can reach Redis can write any bytes into a record, a dead letter, a counter or a
registration. Every reader parses what it reads through these functions: a field that does
not hold what it should comes back as None (a number) or with its invalid UTF-8 replaced
(text), for the caller to mark as unreadable instead of failing on it.
"""

from __future__ import annotations

import math


def as_int(value: object) -> int | None:
    """The integer `value` holds: an int, an integral finite float, or its text (bytes or
    str, as Lua writes it: ``12`` or ``12.0``); None for anything else (absent, empty,
    ``NaN``, ``1e999``, a bool, garbage bytes, more digits than Python converts)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, bytes | str):
        try:
            return int(value)
        except ValueError:  # not an integer's text (or more digits than int() converts)
            pass
    number = as_float(value)
    return int(number) if number is not None and number.is_integer() else None


def as_float(value: object) -> float | None:
    """The finite number `value` holds (an int, a float, or its text as bytes or str); None
    for anything else (absent, empty, ``NaN``, ``inf``, ``1e999``, a bool, garbage bytes)."""
    if isinstance(value, bool) or not isinstance(value, int | float | bytes | str):
        return None
    try:
        number = float(value)
    except (ValueError, OverflowError):  # not a number's text; an int beyond a float's range
        return None
    return number if math.isfinite(number) else None


def text(raw: bytes | None) -> str:
    """A field as text, invalid UTF-8 replaced; ``""`` when absent. Printing it still needs
    `relier.display.safe_text` (control characters)."""
    return raw.decode("utf-8", errors="replace") if raw else ""


def unreadable(size: int) -> str:
    """How a stored value that does not decode is shown: ``undecodable (N bytes)``."""
    return f"undecodable ({size} bytes)"
