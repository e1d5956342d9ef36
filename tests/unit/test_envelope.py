"""Envelope: encode, sign, verify, decode and migrate, without I/O."""

from __future__ import annotations

from typing import Any

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from relier.envelope import (
    DecodeFailure,
    Envelope,
    SignatureStatus,
    canonical_arguments,
    inspect_sealed,
    open_sealed,
    seal,
)
from relier.reasons import DeadLetterReason
from relier.schema import Arguments, MigrationChain

KEY_ID, SECRET = "k1", b"s" * 32
KEYS = {KEY_ID: SECRET, "k0": b"o" * 32}

scalars = st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.text() | st.binary() | (
    st.floats(allow_nan=False)
)
values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=12,
)
envelopes = st.builds(
    Envelope,
    task=st.text(min_size=1),
    id=st.uuids().map(str),
    args=st.lists(values, max_size=5).map(tuple),
    kwargs=st.dictionaries(st.text(), values, max_size=5),
    version=st.integers(1, 50),
    idempotency_key=st.none() | st.text(),
    created_ms=st.integers(0, 2**50),
    trace=st.dictionaries(st.text(), st.text(), max_size=2),
)


@given(envelopes)
def test_seal_then_open_round_trips(envelope: Envelope) -> None:
    assert open_sealed(seal(envelope, KEY_ID, SECRET), KEYS) == envelope


@given(envelopes, st.data())
def test_any_flipped_byte_is_rejected(envelope: Envelope, data: st.DataObject) -> None:
    raw = bytearray(seal(envelope, KEY_ID, SECRET))
    index = data.draw(st.integers(0, len(raw) - 1))
    raw[index] ^= data.draw(st.integers(1, 255))
    outcome = open_sealed(bytes(raw), KEYS)
    assert isinstance(outcome, DecodeFailure)
    assert outcome.raw == bytes(raw)


@given(st.binary())
def test_decoder_is_total_on_garbage(raw: bytes) -> None:
    outcome = open_sealed(raw, KEYS)
    assert isinstance(outcome, DecodeFailure | Envelope)


def test_unknown_key_id_is_named() -> None:
    raw = seal(Envelope(task="t", id="1"), "retired", b"r" * 32)
    outcome = open_sealed(raw, KEYS)
    assert isinstance(outcome, DecodeFailure)
    assert outcome.reason is DeadLetterReason.UNKNOWN_KEY
    assert "retired" in outcome.error


def test_signature_binds_the_key_id() -> None:
    raw = seal(Envelope(task="t", id="1"), KEY_ID, SECRET)
    fields = msgspec.msgpack.decode(raw)
    fields[1] = "k0"
    outcome = open_sealed(msgspec.msgpack.encode(fields), KEYS)
    assert isinstance(outcome, DecodeFailure)
    assert outcome.reason is DeadLetterReason.BAD_SIGNATURE


def test_every_configured_key_verifies() -> None:
    raw = seal(Envelope(task="t", id="1"), "k0", KEYS["k0"])
    assert isinstance(open_sealed(raw, KEYS), Envelope)


def test_canonical_arguments_ignore_keyword_order() -> None:
    assert canonical_arguments((1,), {"a": 1, "b": 2}) == canonical_arguments((1,), {"b": 2, "a": 1})
    assert canonical_arguments((1,), {}) != canonical_arguments((2,), {})


def _rename(old: str, new: str) -> Any:
    def migrate(arguments: Arguments) -> Arguments:
        kwargs = dict(arguments.kwargs)
        kwargs[new] = kwargs.pop(old)
        return Arguments(arguments.args, kwargs)

    return migrate


@given(envelopes.map(lambda e: msgspec.structs.replace(e, version=1)), st.integers(-(2**63), 2**64 - 1))
def test_round_trip_then_migrate(envelope: Envelope, value: int) -> None:
    envelope = msgspec.structs.replace(envelope, kwargs={"a": value})
    chain = MigrationChain("t", current=3)
    chain.register(1, _rename("a", "b"))
    chain.register(2, _rename("b", "c"))
    opened = open_sealed(seal(envelope, KEY_ID, SECRET), KEYS)
    assert isinstance(opened, Envelope)
    upgraded = chain.upgrade(opened.version, Arguments(opened.args, opened.kwargs))
    assert upgraded.kwargs == {"c": value}


def test_unencodable_argument_is_a_clear_type_error() -> None:
    import pytest

    from relier.envelope import encode_payload

    with pytest.raises(TypeError, match="task t arguments cannot be encoded"):
        encode_payload(Envelope(task="t", id="1", args=(2**70,)))
    with pytest.raises(TypeError, match="task t arguments cannot be encoded"):
        encode_payload(Envelope(task="t", id="1", args=(object(),)))


@given(envelopes)
def test_inspecting_a_good_seal_verifies_and_decodes(envelope: Envelope) -> None:
    seen = inspect_sealed(seal(envelope, KEY_ID, SECRET), KEYS)
    assert (seen.status, seen.key_id, seen.error) == (SignatureStatus.VERIFIED, KEY_ID, "")
    assert seen.envelope is not None
    assert seen.envelope.id == envelope.id


def test_inspecting_a_bad_seal_still_shows_what_it_claims() -> None:
    envelope = Envelope(task="t", id="i", args=(1, "two"), kwargs={"k": b"\x00"})
    forged = seal(envelope, KEY_ID, b"f" * 32)
    seen = inspect_sealed(forged, KEYS)
    assert seen.status is SignatureStatus.BAD_SIGNATURE
    assert seen.key_id == KEY_ID
    assert "altered" in seen.error
    assert seen.envelope is not None
    assert seen.envelope.args == (1, "two")
    assert isinstance(open_sealed(forged, KEYS), DecodeFailure)  # still never runs
    stranger = inspect_sealed(seal(envelope, "k9", SECRET), KEYS)
    assert (stranger.status, stranger.key_id) == (SignatureStatus.UNKNOWN_KEY, "k9")
    assert stranger.envelope is not None
    assert stranger.envelope.kwargs == {"k": b"\x00"}


def test_inspecting_garbage_is_undecodable_without_raising() -> None:
    seen = inspect_sealed(b"\xc1 not msgpack", KEYS)
    assert seen.status is SignatureStatus.UNDECODABLE
    assert seen.envelope is None
    assert seen.error
