"""relier's kombu serializer: the message body is the sealed envelope.

The decoder is total: it never raises, so Celery never acks and drops a relier message for
failing to decode. It returns Celery's protocol-2 body shape ``(args, kwargs, embed)`` with
the verified `Envelope` (or a `DecodeFailure`) as the only positional argument.
"""

from __future__ import annotations

import threading
from typing import Any

from kombu.serialization import register

from relier.envelope import DecodeFailure, Envelope, open_sealed
from relier.message import CONTENT_ENCODING, CONTENT_TYPE, SERIALIZER_NAME

_EMBED: dict[str, Any] = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}
_keys: dict[str, bytes] = {}
_lock = threading.Lock()


def add_verification_keys(keys: tuple[tuple[str, bytes], ...]) -> None:
    """Make these keys valid for verifying bodies in this process."""
    with _lock:
        _keys.update(keys)


def decode_body(raw: bytes | str) -> tuple[tuple[Envelope | DecodeFailure], dict[str, Any], dict[str, Any]]:
    data = raw.encode("latin-1") if isinstance(raw, str) else bytes(raw)
    return (open_sealed(data, _keys),), {}, dict(_EMBED)


def _encode_body(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    raise TypeError(
        "relier messages are built by push()/apush(); use the task's .push() instead of "
        "publishing with serializer='relier'"
    )


def register_serializer() -> None:
    register(  # type: ignore[no-untyped-call]  # kombu ships no annotations here
        SERIALIZER_NAME,
        _encode_body,
        decode_body,
        content_type=CONTENT_TYPE,
        content_encoding=CONTENT_ENCODING,
    )
