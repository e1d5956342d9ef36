"""The packed queue element: round trips, its dictionary pinned, and any bytes refused cleanly."""

from __future__ import annotations

import contextlib
import json
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relier.message import build_message
from relier.packing import (
    DICTIONARY_SHA256,
    MAX_UNPACKED_BYTES,
    PACKED_PREFIX,
    PackedElementError,
    element,
    element_text,
    is_packed,
    pack,
    unpack_element,
)


def _message(args: tuple[object, ...] = ()) -> tuple[str, str]:
    built = build_message(
        task_name="app.charge",
        task_id="0a1b",
        body=b"\x01sealed",
        queue="default",
        priority=0,
        time_limits=(None, None),
        args=args,
        kwargs={},
    )
    return built.head, built.tail


def test_a_packed_element_unpacks_to_the_kombu_json_with_its_tag() -> None:
    head, tail = _message()
    item = element(pack(head, tail), "0a1b.7")
    assert is_packed(item)
    assert unpack_element(item) == (head + "0a1b.7" + tail).encode()
    assert json.loads(unpack_element(item))["properties"]["delivery_tag"] == "0a1b.7"


def test_the_common_text_compresses_a_small_message_to_a_third() -> None:
    head, tail = _message()
    assert len(element(pack(head, tail), "0a1b.1")) < len(head + tail) / 2.5


def test_the_dictionary_never_changes_under_this_prefix() -> None:
    # Messages already queued are read with it: a new dictionary needs a new PACKED_PREFIX.
    assert PACKED_PREFIX == b"\x00rl1"
    assert DICTIONARY_SHA256 == "d5d753d9b7c4419e4133d26b553178961599a99bb2174a5ef97e23554ce1f128"


def test_a_tag_is_escaped_into_the_json() -> None:
    head, tail = _message()
    document = json.loads(unpack_element(element(pack(head, tail), 'a"b\\c')))
    assert document["properties"]["delivery_tag"] == 'a"b\\c'


@pytest.mark.parametrize(
    ("item", "problem"),
    [
        (PACKED_PREFIX, "without its delivery tag"),
        (PACKED_PREFIX + b"tag", "without its delivery tag"),
        (PACKED_PREFIX + b"\xff\xfe\x00xyz", "not UTF-8"),
        (PACKED_PREFIX + b"t.1\x00not deflate at all", "does not inflate"),
        (PACKED_PREFIX + b"t.1\x00" + pack("{}", "")[:3], "cut short"),
    ],
)
def test_a_malformed_packed_element_raises_with_the_reason(item: bytes, problem: str) -> None:
    with pytest.raises(PackedElementError, match=problem):
        unpack_element(item)
    assert element_text(item) == item


def test_a_bomb_is_refused_not_inflated() -> None:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -11)
    bomb = compressor.compress(b"\x00" + b"x" * (MAX_UNPACKED_BYTES + 1)) + compressor.flush()
    with pytest.raises(PackedElementError, match="inflates past"):
        unpack_element(PACKED_PREFIX + b"t.1\x00" + bomb)


def test_plain_kombu_json_passes_unchanged() -> None:
    assert not is_packed(b'{"body": ""}')
    assert element_text(b'{"body": ""}') == b'{"body": ""}'


@given(st.binary(max_size=300))
def test_any_bytes_after_the_prefix_unpack_or_raise_packed_element_error(tail: bytes) -> None:
    with contextlib.suppress(PackedElementError):
        unpack_element(PACKED_PREFIX + tail)
