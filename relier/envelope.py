"""The signed task envelope: what a relier message body carries.

Wire format: a msgpack array ``[format, key_id, signature, payload]`` where ``payload`` is the
msgpack-encoded `Envelope` and ``signature`` is HMAC-SHA256 over format, key id and payload.
The signature is checked before the payload is decoded. The envelope is immutable: per-attempt
data (attempt, fence, ticket, checkpoint) lives in the task's Redis record, so re-queueing a
message never needs a signing key.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any

import msgspec

from relier import values
from relier.reasons import DeadLetterReason

#: Version of the sealed wire format itself (not of a task's arguments).
WIRE_FORMAT = 1


class Envelope(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One task invocation as the producer created it: everything that decides how it runs.

    Celery's headers repeat some of these fields (task, id, time limits, the call's headers); a
    worker checks that they agree and uses these. `eta` and `expires` (ISO 8601) are relier's
    alone: the delayed set holds a task until due and start cancels one that expired, so
    Celery's own eta/expires headers stay empty. `retries`, `retry_backoff` and `retry_backoff_max`
    are the task's retry policy when it was pushed (which exceptions are retried stays the
    worker's `retry_on`).
    """

    task: str
    id: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = {}
    version: int = 1
    idempotency_key: str | None = None
    created_ms: int = 0
    trace: dict[str, str] = {}
    queue: str = ""
    time_limit: float | None = None
    soft_time_limit: float | None = None
    eta: str | None = None
    expires: str | None = None
    retries: int = 0
    retry_backoff: float = 1.0
    retry_backoff_max: float = 600.0
    #: The call's own headers (`apply_async(headers=...)`), which Celery shows the task as
    #: ``self.request.<name>``.
    headers: dict[str, Any] = {}
    #: Celery's canvas around this call (`relier.canvas`): ``chain`` (the steps after this
    #: one), ``link``/``link_error`` (signatures called on success/failure), ``chord`` (the
    #: body of the chord this task is a header task of), ``group_id``, ``group_index``,
    #: ``root_id`` and ``parent_id``. Signatures are plain dicts, as Celery sends them.
    canvas: dict[str, Any] = {}
    #: The producer's ``RELIER_KEY_PREFIX``: a worker with another prefix ends the task in the
    #: producer's keyspace as ``key_prefix_mismatch`` instead of dropping the copy.
    key_prefix: str = ""

    @property
    def time_limits(self) -> tuple[float | None, float | None]:
        """``(hard, soft)`` seconds, Celery's order."""
        return (self.time_limit, self.soft_time_limit)


class _Sealed(msgspec.Struct, frozen=True, array_like=True):
    format: int
    kid: str
    sig: bytes
    payload: bytes


class DecodeFailure(msgspec.Struct, frozen=True, kw_only=True):
    """A body that could not be decoded or verified; it must never run."""

    reason: DeadLetterReason
    error: str
    raw: bytes
    task_id: str | None = None
    task: str | None = None


_encoder = msgspec.msgpack.Encoder()
_canonical_encoder = msgspec.msgpack.Encoder(order="sorted")
_sealed_decoder = msgspec.msgpack.Decoder(_Sealed)
_envelope_decoder = msgspec.msgpack.Decoder(Envelope, ext_hook=values.ext_hook)


def _mac(secret: bytes, fmt: int, kid: str, payload: bytes) -> bytes:
    header = fmt.to_bytes(2, "big") + kid.encode() + b"\x00"
    return hmac.new(secret, header + payload, hashlib.sha256).digest()


def encode_payload(envelope: Envelope) -> bytes:
    """Encode an envelope's payload; raises `TypeError` naming the path of any argument that
    cannot be sent (`relier.values`)."""
    try:
        wire = msgspec.structs.replace(
            envelope, args=tuple(values.to_wire(list(envelope.args), "args")),
            kwargs=values.to_wire(dict(envelope.kwargs), "kwargs"),
            canvas=values.to_wire(dict(envelope.canvas), "canvas"))
        return _encoder.encode(wire)
    except (TypeError, OverflowError, msgspec.EncodeError) as exc:
        raise TypeError(f"task {envelope.task} arguments cannot be encoded: {exc}") from None


def seal(envelope: Envelope, kid: str, secret: bytes) -> bytes:
    """Sign and encode an envelope into message-body bytes."""
    payload = encode_payload(envelope)
    return _encoder.encode(_Sealed(WIRE_FORMAT, kid, _mac(secret, WIRE_FORMAT, kid, payload), payload))


def open_sealed(raw: bytes, keys: Mapping[str, bytes]) -> Envelope | DecodeFailure:
    """Verify and decode message-body bytes. Never raises: failures come back as a marker."""
    try:
        sealed = _sealed_decoder.decode(raw)
    except (msgspec.DecodeError, TypeError, ValueError) as exc:
        return DecodeFailure(reason=DeadLetterReason.UNDECODABLE, error=str(exc), raw=bytes(raw))
    if sealed.format != WIRE_FORMAT:
        return DecodeFailure(
            reason=DeadLetterReason.UNDECODABLE,
            error=f"unknown wire format {sealed.format} (this worker reads {WIRE_FORMAT})",
            raw=bytes(raw),
        )
    secret = keys.get(sealed.kid)
    if secret is None:
        return DecodeFailure(
            reason=DeadLetterReason.UNKNOWN_KEY,
            error=f"signed with key id {sealed.kid!r}, which is not in RELIER_SECRET_KEYS",
            raw=bytes(raw),
        )
    expected = _mac(secret, sealed.format, sealed.kid, sealed.payload)
    if not hmac.compare_digest(expected, sealed.sig):
        return DecodeFailure(
            reason=DeadLetterReason.BAD_SIGNATURE,
            error=f"signature does not match key id {sealed.kid!r}: the message was altered",
            raw=bytes(raw),
        )
    try:
        return _envelope_decoder.decode(sealed.payload)
    except (msgspec.DecodeError, TypeError, ValueError) as exc:
        return DecodeFailure(reason=DeadLetterReason.UNDECODABLE, error=str(exc), raw=bytes(raw))


class SignatureStatus(StrEnum):
    """Whether a stored message's signature verifies, for showing it to an operator."""

    VERIFIED = "verified"
    BAD_SIGNATURE = "bad_signature"
    UNKNOWN_KEY = "unknown_key"
    UNDECODABLE = "undecodable"


class SealInspection(msgspec.Struct, frozen=True, kw_only=True):
    """What a sealed body says and whether to believe it (`inspect_sealed`)."""

    status: SignatureStatus
    key_id: str = ""
    error: str = ""
    #: The payload, decoded even when the signature does not verify (to show what a refused
    #: message claims); None when it does not decode. Never run it unless `status` is
    #: ``verified``.
    envelope: Envelope | None = None


def inspect_sealed(raw: bytes, keys: Mapping[str, bytes]) -> SealInspection:
    """Verify like `open_sealed`, but decode the payload whatever the signature, for display.

    Decoding untrusted msgpack is safe (msgspec builds plain values only); running it is not.
    Never raises.
    """
    opened = open_sealed(raw, keys)
    if isinstance(opened, Envelope):
        sealed = _sealed_decoder.decode(raw)
        return SealInspection(status=SignatureStatus.VERIFIED, key_id=sealed.kid, envelope=opened)
    status = {DeadLetterReason.BAD_SIGNATURE: SignatureStatus.BAD_SIGNATURE,
              DeadLetterReason.UNKNOWN_KEY: SignatureStatus.UNKNOWN_KEY}.get(
                  opened.reason, SignatureStatus.UNDECODABLE)
    if status is SignatureStatus.UNDECODABLE:
        return SealInspection(status=status, error=opened.error)
    sealed = _sealed_decoder.decode(raw)
    try:
        envelope: Envelope | None = _envelope_decoder.decode(sealed.payload)
    except (msgspec.DecodeError, TypeError, ValueError):
        envelope = None
    return SealInspection(status=status, key_id=sealed.kid, error=opened.error, envelope=envelope)


def canonical_arguments(args: Sequence[Any], kwargs: Mapping[str, Any]) -> bytes:
    """Deterministic bytes for a call's arguments (keys sorted), for hashing; a date and its
    ISO string hash differently."""
    return _canonical_encoder.encode([values.to_wire(list(args), "args"),
                                      values.to_wire(dict(kwargs), "kwargs")])


def encode_value(value: Any) -> bytes:
    """Encode a result or checkpoint; raises `TypeError` naming what cannot be stored."""
    try:
        return values.encode(value, "value")
    except (TypeError, OverflowError, msgspec.EncodeError) as exc:
        raise TypeError(f"{type(value).__name__} value cannot be encoded: {exc}") from None


def decode_value(raw: bytes) -> Any:
    return values.decode(raw)
