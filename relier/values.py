"""Arguments, results and checkpoints as msgpack that round-trips exactly, or a clear refusal.

msgspec writes ``datetime``, ``date``, ``time``, ``Decimal`` and ``UUID`` as strings, so they
used to arrive as ``str``. `to_wire` turns each into a msgpack extension (a type code and its
exact text or bytes) and `decode` turns them back; ``bytes`` are msgpack's own binary type.
Containers are walked: lists, tuples and sets arrive as lists, dicts keep their string or
integer keys, dataclasses and msgspec structs arrive as dicts, enums as their values.
Anything else, and integers beyond 64 bits, are refused where the value is given, with its
path (``args[1]['when']``).
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import uuid
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

_DATETIME, _DATE, _TIME, _DECIMAL, _UUID, _TIMEDELTA = 1, 2, 3, 4, 5, 6
_MIN_INT, _MAX_INT = -(2**63), 2**64 - 1
_ZONE_SEPARATOR = "|"
_PLAIN = (str, bytes, bool, float, type(None))


def _zoned(text: str, tzinfo: datetime.tzinfo | None) -> str:
    """ISO text plus the IANA zone name when there is one (an offset alone loses DST rules)."""
    if isinstance(tzinfo, ZoneInfo):
        return f"{text}{_ZONE_SEPARATOR}{tzinfo.key}"
    return text


def _int(value: int, path: str) -> int:
    if not _MIN_INT <= value <= _MAX_INT:
        raise TypeError(f"{path}: the integer {value} does not fit in 64 bits; pass it as a "
                        "string or a Decimal")
    return int(value)


def _ext(code: int, text: str) -> msgspec.msgpack.Ext:
    return msgspec.msgpack.Ext(code, text.encode())


#: (type, its wire form), most specific first: datetime is a date, bool an int.
_SCALARS: tuple[tuple[type[Any] | tuple[type[Any], ...], Any], ...] = (
    (str, str),
    ((bytes, bytearray, memoryview), bytes),
    (float, float),
    (datetime.datetime, lambda v: _ext(_DATETIME, _zoned(v.isoformat(), v.tzinfo))),
    (datetime.date, lambda v: _ext(_DATE, v.isoformat())),
    (datetime.time, lambda v: _ext(_TIME, _zoned(v.isoformat(), v.tzinfo))),
    (datetime.timedelta, lambda v: msgspec.msgpack.Ext(_TIMEDELTA, msgspec.msgpack.encode(
        [v.days, v.seconds, v.microseconds]))),
    (decimal.Decimal, lambda v: _ext(_DECIMAL, str(v))),
    (uuid.UUID, lambda v: msgspec.msgpack.Ext(_UUID, v.bytes)),
)


def _scalar(value: Any, path: str) -> Any:
    """The wire form of a value that is not a container."""
    if isinstance(value, enum.Enum):
        return to_wire(value.value, path)
    if isinstance(value, int) and not isinstance(value, bool):
        return _int(value, path)
    for kind, convert in _SCALARS:
        if isinstance(value, kind):
            return convert(value)
    raise TypeError(f"{path}: a {type(value).__module__}.{type(value).__qualname__} cannot be "
                    "sent; pass plain data (numbers, strings, bytes, lists, dicts, dates, "
                    "Decimals, UUIDs)")


def to_wire(value: Any, path: str = "value") -> Any:
    """`value` with every special type as a msgpack extension; raises `TypeError` naming the
    path of the first value that cannot be sent."""
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is list or kind is tuple or isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=repr) if isinstance(value, set | frozenset) else value
        return [to_wire(item, f"{path}[{index}]") for index, item in enumerate(items)]
    if isinstance(value, Mapping):
        return {_key(key, path): to_wire(item, f"{path}[{key!r}]") for key, item in value.items()}
    if isinstance(value, msgspec.Struct):
        return to_wire(msgspec.structs.asdict(value), path)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_wire({field.name: getattr(value, field.name)
                        for field in dataclasses.fields(value)}, path)
    return _scalar(value, path)


def _key(key: Any, path: str) -> Any:
    if isinstance(key, str) or type(key) is int:
        return key
    raise TypeError(f"{path}: dict key {key!r} is a {type(key).__name__}; keys must be strings "
                    "or integers")


def _from_zoned(text: str) -> tuple[str, ZoneInfo | None]:
    iso, separator, zone = text.partition(_ZONE_SEPARATOR)
    if not separator:
        return iso, None
    try:
        return iso, ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        return iso, None  # the offset in the ISO text still gives the instant


def _datetime(text: str) -> datetime.datetime:
    iso, zone = _from_zoned(text)
    moment = datetime.datetime.fromisoformat(iso)
    return moment.astimezone(zone) if zone is not None else moment


def _time(text: str) -> datetime.time:
    iso, zone = _from_zoned(text)
    moment_of_day = datetime.time.fromisoformat(iso)
    return moment_of_day.replace(tzinfo=zone) if zone is not None else moment_of_day


def _timedelta(raw: bytes) -> datetime.timedelta:
    days, seconds, microseconds = msgspec.msgpack.decode(raw)
    return datetime.timedelta(days=days, seconds=seconds, microseconds=microseconds)


_FROM_EXT: dict[int, Any] = {
    _DATETIME: lambda raw: _datetime(raw.decode()),
    _DATE: lambda raw: datetime.date.fromisoformat(raw.decode()),
    _TIME: lambda raw: _time(raw.decode()),
    _DECIMAL: lambda raw: decimal.Decimal(raw.decode()),
    _UUID: lambda raw: uuid.UUID(bytes=raw),
    _TIMEDELTA: _timedelta,
}


def ext_hook(code: int, data: memoryview) -> Any:
    """msgspec's hook: a relier extension back to its Python value (an unknown code stays an
    `msgspec.msgpack.Ext`)."""
    raw = bytes(data)
    convert = _FROM_EXT.get(code)
    return convert(raw) if convert is not None else msgspec.msgpack.Ext(code, raw)


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(ext_hook=ext_hook)


def encode(value: Any, path: str = "value") -> bytes:
    """msgpack bytes of `value`; raises `TypeError` naming what cannot be sent."""
    return _encoder.encode(to_wire(value, path))


def decode(raw: bytes) -> Any:
    """The value `encode` wrote (extensions of unknown codes stay `msgspec.msgpack.Ext`)."""
    return _decoder.decode(raw)
