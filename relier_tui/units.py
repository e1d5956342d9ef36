"""Numbers as the console shows them, always with their unit: durations (``12ms``, ``3.2s``,
``4m05s``), sizes (``512 B``, ``1.1 MiB``) and moments from Redis's clock as local time with
their age (``14:03:12 (4.2s ago)``)."""

from __future__ import annotations

import datetime
import re

#: one binary prefix per step of 1024, after bytes
_SIZE_UNITS = ("KiB", "MiB", "GiB", "TiB")
#: what `duration` writes: ``12ms``, ``3.2s``, ``4m05s``, ``3h20m``, ``2d04h``
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s)|(\d+)([mhd])(\d\d)([smh])")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def duration(seconds: float | None) -> str:
    """``12ms`` under a second, ``3.2s`` under a minute, ``4m05s`` under an hour, ``3h20m``
    under a day, then ``2d04h``; ``-`` when unknown. Negative values (clock skew) read 0."""
    if seconds is None:
        return "-"
    seconds = max(0.0, seconds)
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms" if seconds < 0.9995 else "1.0s"
    if seconds < 59.95:
        return f"{seconds:.1f}s"
    whole = int(seconds)
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    if whole < 86400:
        return f"{whole // 3600}h{whole % 3600 // 60:02d}m"
    return f"{whole // 86400}d{whole % 86400 // 3600:02d}h"


def seconds_of(text: str) -> float | None:
    """The seconds a `duration` text stands for (``4m05s`` -> 245.0); None for other text."""
    found = _DURATION.fullmatch(text)
    if found is None:
        return None
    number, unit, major, major_unit, minor, minor_unit = found.groups()
    if number is not None:
        return float(number) * _UNIT_SECONDS[unit]
    return int(major) * _UNIT_SECONDS[major_unit] + int(minor) * _UNIT_SECONDS[minor_unit]


def size(count: int) -> str:
    """``512 B``, ``1.1 KiB``, ``1.1 MiB``, ... (binary prefixes)."""
    if count < 1024:
        return f"{count} B"
    value = count / 1024
    for unit in _SIZE_UNITS[:-1]:
        if value < 1023.95:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} {_SIZE_UNITS[-1]}"


def local_time(ms: int, now_ms: int) -> str:
    """Epoch milliseconds as local time: ``14:03:12`` today, with the date otherwise."""
    stamp = datetime.datetime.fromtimestamp(ms / 1000).astimezone()
    today = datetime.datetime.fromtimestamp(now_ms / 1000).astimezone().date()
    clock = stamp.strftime("%H:%M:%S")
    return clock if stamp.date() == today else f"{stamp:%Y-%m-%d} {clock}"


def moment(ms: int | None, now_ms: int) -> str:
    """``14:03:12 (4.2s ago)``, or ``(in 3.0s)`` for one still to come; ``-`` when unknown.
    Both times are Redis's clock (milliseconds), so the age is right whatever this machine's
    clock says; the local time uses this machine's time zone."""
    if ms is None:
        return "-"
    try:
        when = local_time(ms, now_ms)
    except (OverflowError, OSError, ValueError):  # a number no calendar holds
        return f"{ms} (not a time)"
    if ms > now_ms:
        return f"{when} (in {duration((ms - now_ms) / 1000)})"
    return f"{when} ({duration((now_ms - ms) / 1000)} ago)"


def count(value: int | None) -> int | str:
    """A count read from Redis (an attempt, a fence, a pid): itself, or ``?`` when the field
    held no number (`relier.field_values` reads garbage as None)."""
    return "?" if value is None else value
