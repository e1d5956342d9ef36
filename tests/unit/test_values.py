"""Arguments, results and checkpoints round-trip exactly, or are refused with their path."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import re
import uuid
import zoneinfo
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from relier import values
from relier.envelope import Envelope, canonical_arguments, encode_payload, open_sealed, seal

EXACT: dict[str, Any] = {
    "naive": datetime.datetime(2026, 12, 3, 5, 6, 7, 891011),
    "utc": datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC),
    "offset": datetime.datetime(2026, 1, 1, 9, tzinfo=datetime.timezone(datetime.timedelta(hours=-3))),
    "zoned": datetime.datetime(2026, 7, 1, 12, tzinfo=zoneinfo.ZoneInfo("Europe/Paris")),
    "date": datetime.date(2024, 2, 29),
    "time": datetime.time(23, 59, 59, 999999),
    "delta": datetime.timedelta(days=-2, seconds=3, microseconds=4),
    "decimal": decimal.Decimal("10.50"),
    "uuid": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "bytes": b"\x00\xff\x80",
    "nested": {"when": [datetime.date(2020, 1, 1), {"amount": decimal.Decimal("-0.000")}]},
    "largest": 2**64 - 1,
    "smallest": -(2**63),
}


@pytest.mark.parametrize("name", sorted(EXACT))
def test_values_round_trip_with_their_types(name: str) -> None:
    decoded = values.decode(values.encode(EXACT[name]))
    assert decoded == EXACT[name]
    assert type(decoded) is type(EXACT[name])
    if isinstance(decoded, datetime.datetime):
        assert decoded.tzinfo == EXACT[name].tzinfo
    if isinstance(decoded, decimal.Decimal):
        assert str(decoded) == str(EXACT[name])  # the exponent too: 10.50 stays 10.50


def test_signed_arguments_arrive_exactly() -> None:
    envelope = Envelope(task="t", id="1", args=(EXACT["zoned"], EXACT["decimal"]),
                        kwargs={"when": EXACT["date"], "raw": EXACT["bytes"]})
    opened = open_sealed(seal(envelope, "k", b"s" * 32), {"k": b"s" * 32})
    assert isinstance(opened, Envelope)
    assert opened.args == (EXACT["zoned"], EXACT["decimal"])
    assert opened.kwargs == {"when": EXACT["date"], "raw": EXACT["bytes"]}


class Colour(enum.Enum):
    RED = "red"


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Pair(msgspec.Struct):
    left: int
    right: str


def test_containers_arrive_as_plain_data() -> None:
    sent = {"tuple": (1, 2), "set": {3, 1}, "enum": Colour.RED, "point": Point(1, 2),
            "pair": Pair(1, "a")}
    assert values.decode(values.encode(sent)) == {
        "tuple": [1, 2], "set": [1, 3], "enum": "red", "point": {"x": 1, "y": 2},
        "pair": {"left": 1, "right": "a"}}


@pytest.mark.parametrize(
    ("args", "kwargs", "path"),
    [((2**64,), {}, "args[0]: the integer"),
     ((-(2**63) - 1,), {}, "args[0]: the integer"),
     ((1, {"a": [object()]}), {}, "args[1]['a'][0]: a builtins.object"),
     ((), {"cb": print}, "kwargs['cb']"),
     ((), {"m": {(1, 2): 3}}, "kwargs['m']: dict key (1, 2)")],
)
def test_what_cannot_be_sent_is_refused_with_its_path(
    args: tuple[Any, ...], kwargs: dict[str, Any], path: str,
) -> None:
    with pytest.raises(TypeError, match=re.escape(path)):
        encode_payload(Envelope(task="t", id="1", args=args, kwargs=kwargs))


def test_a_date_and_its_text_are_different_idempotency_keys() -> None:
    assert canonical_arguments((datetime.date(2020, 1, 1),), {}) != canonical_arguments(("2020-01-01",), {})
    assert canonical_arguments((), {"b": 1, "a": 2}) == canonical_arguments((), {"a": 2, "b": 1})


plain = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.text() | st.binary()
    | st.floats(allow_nan=False) | st.datetimes() | st.dates() | st.times() | st.uuids()
    | st.decimals(allow_nan=False, allow_infinity=False),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=20,
)


@given(plain)
def test_any_plain_value_round_trips(value: Any) -> None:
    assert values.decode(values.encode(value)) == value
