"""A stored message shown to people: its task, its arguments, and whether its signature holds.

A task record keeps the kombu message relier pushed, split around its delivery tag (``head``
and ``tail``); a raw dead letter keeps the refused element verbatim (``raw``: a kombu message
document, or a bare sealed body). `decode_stored` finds the sealed body in either and verifies
it (`relier.envelope.inspect_sealed`); the arguments are decoded even when the signature does
not hold, so an operator sees what a refused message claims. `plain` turns decoded values into
JSON, `shown` into text; neither is ever run or evaluated.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime
import decimal
import json
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import msgspec

from relier.display import safe_text
from relier.envelope import Envelope, SignatureStatus, decode_value, inspect_sealed
from relier.packing import element as packed_element
from relier.packing import element_text

#: Longest text `shown` gives one value before it is cut with an ellipsis.
SHOWN_LIMIT = 2000


@dataclasses.dataclass(frozen=True, slots=True)
class StoredMessage:
    """A record's message, decoded. `signature` is None when the record holds no message."""

    signature: SignatureStatus | None
    key_id: str = ""
    error: str = ""
    envelope: Envelope | None = None

    @property
    def is_verified(self) -> bool:
        return self.signature is SignatureStatus.VERIFIED

    @property
    def signature_text(self) -> str:
        """``verified``, ``bad signature (key k1)``, ``unknown key (key k9)``, ``undecodable``
        or ``none (no message stored)``."""
        if self.signature is None:
            return "none (no message stored)"
        text = self.signature.value.replace("_", " ")
        return f"{text} (key {self.key_id})" if self.key_id else text

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: the signature status and, when the payload decodes, the call."""
        shown: dict[str, Any] = {
            "signature": self.signature.value if self.signature is not None else None,
            "key_id": self.key_id, "error": self.error, "verified": self.is_verified,
        }
        envelope = self.envelope
        if envelope is not None:
            shown.update({
                "task": envelope.task, "id": envelope.id, "version": envelope.version,
                "queue": envelope.queue, "created_ms": envelope.created_ms,
                "args": plain(list(envelope.args)), "kwargs": plain(envelope.kwargs),
                "eta": envelope.eta, "expires": envelope.expires,
            })
        return shown


def sealed_body(record: Mapping[str, bytes]) -> bytes | None:
    """The sealed body a record holds: from its kombu message (``packed``; or ``head``
    + tag + ``tail`` in a record written before packing), else from the refused element it
    kept (``raw``: a kombu message, packed or not, or the body itself)."""
    packed, head, tail = record.get("packed"), record.get("head"), record.get("tail")
    raw = record.get("raw")
    if packed is not None:
        return _body_of_document(element_text(packed_element(packed, "0")))
    if head is not None and tail is not None:
        return _body_of_document(head + b"0" + tail)
    if raw is None:
        return None
    body = _body_of_document(element_text(raw))
    return raw if body is None else body


def _body_of_document(document: bytes) -> bytes | None:
    try:
        parsed = json.loads(document)
        return base64.b64decode(parsed["body"], validate=True)
    except (ValueError, KeyError, TypeError, binascii.Error):
        return None


def decode_stored(record: Mapping[str, bytes], keys: Mapping[str, bytes]) -> StoredMessage:
    """The record's message decoded and checked against `keys`. Never raises."""
    body = sealed_body(record)
    if body is None:
        return StoredMessage(None)
    seen = inspect_sealed(body, keys)
    return StoredMessage(seen.status, seen.key_id, seen.error, seen.envelope)


def plain(value: Any) -> Any:
    """`value` as JSON-ready data: bytes as ``{"base64": ..., "bytes": n}``, dates and times
    as ISO text, Decimals and UUIDs as text, unknown msgpack extensions with their code."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    for kind, convert in _PLAIN_FORMS:
        if isinstance(value, kind):
            return convert(value)
    return repr(value)


def _bytes(value: bytes | bytearray | memoryview) -> dict[str, Any]:
    data = bytes(value)
    return {"base64": base64.b64encode(data).decode(), "bytes": len(data)}


#: (type, its JSON-ready form) for the values msgpack and `relier.values` bring back.
_PLAIN_FORMS: tuple[tuple[type[Any] | tuple[type[Any], ...], Callable[[Any], Any]], ...] = (
    ((bytes, bytearray, memoryview), _bytes),
    ((datetime.date, datetime.time), lambda moment: moment.isoformat()),
    (datetime.timedelta, lambda delta: delta.total_seconds()),
    ((decimal.Decimal, uuid.UUID), str),
    (msgspec.msgpack.Ext, lambda ext: {"ext": ext.code, **_bytes(ext.data)}),
)


def stored_value(raw: bytes) -> Any:
    """A stored checkpoint or result as JSON-ready data (`plain`); ``{"undecodable": why,
    "bytes": n}`` when its bytes do not decode. Never raises."""
    try:
        return plain(decode_value(raw))
    except Exception as exc:  # noqa: BLE001 - bytes from Redis: whatever the decoder raises on them is shown as undecodable
        return {"undecodable": safe_text(f"{type(exc).__name__}: {exc}", limit=200),
                "bytes": len(raw)}


def shown(value: Any, *, limit: int | None = SHOWN_LIMIT) -> str:
    """`value` as one line of text for a terminal: its Python repr (strings quoted, escapes
    visible), control characters replaced, cut at `limit` characters."""
    return safe_text(repr(value), limit=limit)
