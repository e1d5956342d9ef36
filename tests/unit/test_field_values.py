"""Numbers read from Redis fields: whatever the bytes, a number or None, never an exception."""

from __future__ import annotations

import pytest

from relier.field_values import as_float, as_int, text, unreadable

NOT_NUMBERS = [None, b"", b"\xff\x00garbage", b"NaN", b"inf", b"-inf", b"1e999", b"9" * 100_000,
               b"\x1b[2J", "seven", True, float("nan"), float("inf"), [1], {"n": 1}]


@pytest.mark.parametrize("value", NOT_NUMBERS)
def test_anything_but_a_number_is_none(value: object) -> None:
    assert as_int(value) is None
    assert as_float(value) is None


@pytest.mark.parametrize(("value", "expected"), [
    (b"12", 12), (b"12.0", 12), (b"-3", -3), (" 7 ", 7), (5, 5), (5.0, 5),
    (b"12345678901234567890123", 12345678901234567890123),  # exact, not through a float
])
def test_integers_as_lua_and_json_write_them(value: object, expected: int) -> None:
    assert as_int(value) == expected


def test_a_fraction_is_a_float_but_not_an_int() -> None:
    assert as_int(b"12.5") is None
    assert as_float(b"12.5") == 12.5
    assert as_float(10**400) is None  # beyond a float's range


def test_text_replaces_invalid_utf8_and_sizes_are_named() -> None:
    assert text(b"ok\xff") == "ok\N{REPLACEMENT CHARACTER}"
    assert text(None) == ""
    assert unreadable(3) == "undecodable (3 bytes)"
