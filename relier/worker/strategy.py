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
from relier.worker.identity import runs_inline, worker_node

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


#: Refusals that mean the producer and this worker may disagree on the signing keys.
_KEY_MISMATCH = frozenset({DeadLetterReason.BAD_SIGNATURE, DeadLetterReason.UNKNOWN_KEY})


def dead_letter_message(runtime: Runtime, message: Any, failure: DecodeFailure) -> None:
    """Keep a message that must never run, with its raw body, headers and reason. A copy
    refused for its signature also ends the task it claims, if it is that task's live copy
    still waiting (`_end_claimed_task`), so its caller learns why at once."""
    headers = dict(message.headers or {})
    routing = (message.delivery_info or {}).get("routing_key") or ""
    refusal = Refusal(failure.reason, failure.error, headers)
    runtime.dead_letter_keeper.keep(RawDeadLetter(failure.raw, str(routing), refusal))
    if failure.reason in _KEY_MISMATCH and refusal.claimed_id:
        _end_claimed_task(runtime, refusal.claimed_id, str(message.delivery_tag), failure)


def _end_claimed_task(runtime: Runtime, task_id: str, tag: str, failure: DecodeFailure) -> None:
    """reject.lua ends the record only if `tag` is its live copy, still queued or reserved:
    an unverified copy changes nothing else (a forged one cannot end a running or finished
    task, nor any task but the one whose live copy it is)."""
    error = (f"{failure.error}; or the producer and the workers disagree on RELIER_SECRET_KEYS "
             "(fix the keys, then release this dead letter)")
    try:
        digest = runtime.store.client.hget(runtime.keys.record(task_id), "idem")
        status = runtime.store.reject(
            task_id, tag, "", failure.reason, error, retry=False,
            idem=digest.decode() if isinstance(digest, bytes) else "")
    except redis.RedisError as exc:  # reconciliation still finds the task later
        logger.warning("task %s not ended after its %s copy (%s)", task_id, failure.reason, exc)
        return
    if status is Reply.OK:
        logger.error("task %s dead-lettered %s: %s", task_id, failure.reason, safe_text(error))


def _end_foreign_task(runtime: Runtime, message: Any, envelope: Envelope, node: str) -> None:
    """A verified message pushed under another ``RELIER_KEY_PREFIX``: its record lives in the
    producer's keyspace, which the signed envelope names. End it there (it waits for this
    copy); keep the copy raw here if that record is not found."""
    error = (f"pushed with RELIER_KEY_PREFIX {envelope.key_prefix!r}, but this worker uses "
             f"{runtime.keys.prefix!r}: give producers and workers the same prefix, then "
             "release this dead letter")
    reason = DeadLetterReason.KEY_PREFIX_MISMATCH
    logger.error("copy %s of task %s: %s", safe_text(message.delivery_tag), envelope.id, error)
    try:
        status = runtime.store_for_prefix(envelope.key_prefix).reject(
            envelope.id, str(message.delivery_tag), node, reason, error, retry=False,
            idem=envelope.idempotency_key or "")
    except redis.RedisError as exc:
        logger.warning("task %s not ended in keyspace %r (%s)", envelope.id, envelope.key_prefix,
                       exc)
        status = Reply.MISSING
    if status is not Reply.OK:
        dead_letter_message(runtime, message, DecodeFailure(reason=reason, error=error,
                                                            raw=_raw_body(message)))


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
    # With prefetch disabled a message is taken only for a free slot and goes straight to it,
    # and the solo pool runs each body as it receives it: nothing waits reserved, and start
    # checks the copy. Otherwise receive binds the reserved copy to this consumer's lease until
    # a slot starts it.
    records_receipt = not (app.conf.worker_disable_prefetch or runs_inline())

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
        if decoded.key_prefix and decoded.key_prefix != runtime.keys.prefix:
            _end_foreign_task(runtime, message, decoded, node)
            ack(logger, connection_errors)
            return None
        _show_only(message.headers)
        if records_receipt and not _received(runtime, decoded, tag, node):
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


def _received(runtime: Runtime, envelope: Envelope, tag: str, node: str) -> bool:
    """Record the reserved copy (receive.lua); False when it is not the task's live copy."""
    try:
        status = runtime.store.receive(envelope.id, tag, node, node)
    except redis.RedisError as exc:
        # start is authoritative; a copy that cannot be recorded here is checked there.
        logger.warning("receive of %s not recorded (%s); passing it on", envelope.id, exc)
        return True
    if status is not Reply.OK:
        logger.info("dropping copy %s of task %s: %s", tag, envelope.id, status)
        return False
    return True


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
