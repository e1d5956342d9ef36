"""A stored message decoded for people: where its body is, its signature, its values as text."""

from __future__ import annotations

import base64
import datetime
import decimal
import json
import uuid

import msgspec

from relier.display import REPLACEMENT
from relier.envelope import Envelope, SignatureStatus, seal
from relier.message import build_message
from relier.stored_message import decode_stored, plain, sealed_body, shown

KEYS = {"k1": b"s" * 32}
CALL = Envelope(task="billing.charge", id="t-1", version=2, queue="default",
                args=("order-1", 5), kwargs={"when": datetime.date(2024, 1, 2)})


def stored(body: bytes) -> dict[str, bytes]:
    """A record's message as dispatch stores it: split around the delivery tag."""
    message = build_message(task_name=CALL.task, task_id=CALL.id, body=body, queue="default",
                            priority=0, time_limits=(None, None), args=(), kwargs={})
    return {"head": message.head.encode(), "tail": message.tail.encode(), "name": b"x"}


def test_a_pushed_message_is_found_verified_and_decoded() -> None:
    message = decode_stored(stored(seal(CALL, "k1", KEYS["k1"])), KEYS)
    assert message.is_verified
    assert message.signature_text == "verified (key k1)"
    assert message.envelope is not None
    assert message.envelope.args == ("order-1", 5)
    shown_dict = message.as_dict()
    assert shown_dict["args"] == ["order-1", 5]
    assert shown_dict["kwargs"] == {"when": "2024-01-02"}
    assert (shown_dict["signature"], shown_dict["verified"], shown_dict["version"]) == (
        "verified", True, 2)
    json.dumps(shown_dict)  # JSON-ready


def test_a_raw_element_or_bare_body_is_found_and_its_status_named() -> None:
    forged = seal(CALL, "k1", b"f" * 32)
    element = stored(forged)
    as_element = {"raw": element["head"] + b"0" + element["tail"]}
    for record in (as_element, {"raw": forged}):
        message = decode_stored(record, KEYS)
        assert message.signature is SignatureStatus.BAD_SIGNATURE
        assert message.signature_text == "bad signature (key k1)"
        assert message.envelope is not None
        assert message.as_dict()["verified"] is False
    unknown = decode_stored({"raw": seal(CALL, "k7", b"s" * 32)}, KEYS)
    assert unknown.signature_text == "unknown key (key k7)"
    assert "RELIER_SECRET_KEYS" in unknown.error
    garbage = decode_stored({"raw": b"\xc1\xc1"}, KEYS)
    assert garbage.signature_text == "undecodable"
    assert garbage.as_dict()["signature"] == "undecodable"
    assert "args" not in garbage.as_dict()


def test_a_record_without_a_message_says_so() -> None:
    assert sealed_body({"name": b"t"}) is None
    assert decode_stored({"name": b"t"}, KEYS).signature_text == "none (no message stored)"
    assert decode_stored({"name": b"t"}, KEYS).as_dict()["signature"] is None


def test_plain_makes_every_wire_value_json_ready() -> None:
    ident = uuid.UUID(int=7)
    value = {"b": b"\x00\x01", "d": decimal.Decimal("1.50"), "u": ident,
             "t": datetime.timedelta(seconds=90), "x": msgspec.msgpack.Ext(42, b"z"),
             "n": [None, True, 1.5, ("a",)]}
    assert plain(value) == {
        "b": {"base64": base64.b64encode(b"\x00\x01").decode(), "bytes": 2},
        "d": "1.50", "u": str(ident), "t": 90.0,
        "x": {"ext": 42, "base64": base64.b64encode(b"z").decode(), "bytes": 1},
        "n": [None, True, 1.5, ["a"]],
    }


def test_shown_values_never_carry_terminal_controls() -> None:
    text = shown("evil \x1b]0;pwned\x07 \u202egnp.exe")
    assert "\x1b" not in text
    assert "\x07" not in text
    assert "\u202e" not in text
    assert text.startswith("'evil ")
    assert shown(b"\x1b[2J") == "b'\\x1b[2J'"
    assert shown("x" * 5000, limit=10).endswith("\N{HORIZONTAL ELLIPSIS}")
    assert len(shown("x" * 5000, limit=10)) == 10
    assert REPLACEMENT not in shown(datetime.date(2024, 1, 2))
