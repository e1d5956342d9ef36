"""The consumer side: a `Task.Strategy` that runs **receive** before Celery sees a message.

Runs in the worker's main process for every delivered relier message, ahead of Celery's own
revoke and expiry checks. Undecodable or unverifiable bodies become dead letters with their
raw bytes; copies that are not the record's live ticket are acked and dropped; everything
else is bound to this worker (reserved) and handed to Celery's default strategy.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import redis
from celery.worker.strategy import default

from relier.display import safe_text
from relier.envelope import DecodeFailure, Envelope
from relier.message import CONTENT_TYPE, DISPLAY_HEADERS, execution_headers, header_mismatches
from relier.raw_dead_letters import RawDeadLetter, Refusal
from relier.reasons import DeadLetterReason
from relier.store import Reply
from relier.worker.identity import worker_node

if TYPE_CHECKING:
    from relier.runtime import Runtime

logger = logging.getLogger("relier.worker")


def _raw_body(message: Any) -> bytes:
    body = message.body
    return bytes(body) if isinstance(body, bytes | bytearray) else str(body).encode()


def _decoded(message: Any) -> Envelope | DecodeFailure:
    """The message's verified envelope, or a `DecodeFailure` if it is not one."""
    if message.content_type != CONTENT_TYPE:
        return DecodeFailure(
            reason=DeadLetterReason.CONTENT_REFUSED,
            error=(
                f"content type {message.content_type!r} is not relier's {CONTENT_TYPE!r}: "
                "relier tasks must be sent with .push()/.apush()/.delay()"
            ),
            raw=_raw_body(message),
        )
    payload = message.payload
    decoded = payload[0][0] if isinstance(payload, tuple) and payload and payload[0] else None
    if isinstance(decoded, Envelope | DecodeFailure):
        return decoded
    return DecodeFailure(reason=DeadLetterReason.UNDECODABLE, raw=_raw_body(message),
                         error=f"the body decoded to {type(decoded).__name__}, not an envelope")


def dead_letter_message(runtime: Runtime, message: Any, failure: DecodeFailure) -> None:
    """Keep a message that must never run, with its raw body, headers and reason."""
    headers = dict(message.headers or {})
    routing = (message.delivery_info or {}).get("routing_key") or ""
    runtime.dead_letter_keeper.keep(RawDeadLetter(
        failure.raw, str(routing), Refusal(failure.reason, failure.error, headers)))


def _check_against_envelope(message: Any, envelope: Envelope) -> list[str]:
    """What in Celery's unsigned copy of the execution fields differs from the envelope."""
    expected = execution_headers(task_name=envelope.task, task_id=envelope.id,
                                 time_limits=envelope.time_limits, extra=envelope.headers,
                                 canvas=envelope.canvas)
    problems = header_mismatches(message.headers or {}, message.properties or {}, expected,
                                 envelope.id)
    queue = (message.delivery_info or {}).get("routing_key")
    if queue != envelope.queue:
        problems.append(f"delivered from queue {queue!r}, signed for {envelope.queue!r}")
    return problems


def _show_only(headers: dict[str, Any]) -> None:
    """Celery logs the display headers: keep escape sequences out of the worker's log."""
    for key in DISPLAY_HEADERS & headers.keys():
        headers[key] = safe_text(headers[key], limit=1024)


def relier_strategy(task: Any, app: Any, consumer: Any, **kwargs: Any) -> Callable[..., Any]:
    inner = default(task, app, consumer, **kwargs)
    runtime: Runtime = task.runtime
    hostname: str = consumer.hostname
    connection_errors = consumer.connection_errors

    def handle_message(message: Any, body: Any, ack: Any, reject: Any, callbacks: Any,
                       **options: Any) -> Any:
        decoded = _decoded(message)
        if isinstance(decoded, DecodeFailure):
            dead_letter_message(runtime, message, decoded)
            ack(logger, connection_errors)
            return None
        node = worker_node(hostname)
        tag = str(message.delivery_tag)
        problems = _check_against_envelope(message, decoded)
        if problems:
            _dead_letter_tampered(runtime, message, decoded, node, "; ".join(problems))
            ack(logger, connection_errors)
            return None
        _show_only(message.headers)
        try:
            status = runtime.store.receive(decoded.id, tag, node, node)
        except redis.RedisError as exc:
            # start is authoritative; a copy that cannot be recorded here is checked there.
            logger.warning("receive of %s not recorded (%s); passing it on", decoded.id, exc)
            status = Reply.OK
        if status is not Reply.OK:
            logger.info("dropping copy %s of task %s: %s", tag, decoded.id, status)
            ack(logger, connection_errors)
            return None
        try:
            return inner(message, body, ack, reject, callbacks, **options)
        except connection_errors:
            raise
        except Exception as exc:  # a verified message Celery could not take: never fatal
            logger.exception("Celery could not take task %s", decoded.id)
            _reject_received(runtime, decoded, tag, node, f"{type(exc).__name__}: {exc}")
            ack(logger, connection_errors)
            return None

    return handle_message


def _dead_letter_tampered(runtime: Runtime, message: Any, envelope: Envelope, node: str,
                          problems: str) -> None:
    """The live copy's record ends ``tampered`` (its caller learns why); any other copy is kept
    as a raw dead letter. Nothing but this record is touched."""
    error = f"the message was altered after signing: {problems}"
    try:
        status: str = runtime.store.reject(envelope.id, str(message.delivery_tag), node,
                                          DeadLetterReason.TAMPERED, error, retry=False,
                                          idem=envelope.idempotency_key or "")
    except redis.RedisError as exc:
        logger.warning("tampered copy of %s not recorded on its task (%s)", envelope.id, exc)
        status = "unrecorded"
    logger.error("copy %s of task %s dead-lettered as tampered (%s): %s",
                 safe_text(message.delivery_tag), envelope.id, status, safe_text(problems))
    if status != "ok":
        dead_letter_message(runtime, message, DecodeFailure(
            reason=DeadLetterReason.TAMPERED, error=error, raw=_raw_body(message)))


def _reject_received(runtime: Runtime, envelope: Envelope, tag: str, node: str, error: str) -> None:
    try:
        runtime.store.reject(envelope.id, tag, node, DeadLetterReason.UNDECODABLE,
                            f"the worker could not take the message: {error}", retry=False,
                            idem=envelope.idempotency_key or "")
    except redis.RedisError:  # still reserved by this consumer: returned at its next restart
        logger.exception("could not dead-letter task %s", envelope.id)
