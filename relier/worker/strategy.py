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

from relier.envelope import DecodeFailure
from relier.message import CONTENT_TYPE
from relier.reasons import DeadLetterReason
from relier.worker.identity import worker_node

if TYPE_CHECKING:
    from relier.binding import Relier

logger = logging.getLogger("relier.worker")


def _decoded(message: Any) -> Any:
    """The message's first positional argument, or a `DecodeFailure` if not relier's."""
    if message.content_type != CONTENT_TYPE:
        return DecodeFailure(
            reason=DeadLetterReason.UNDECODABLE,
            error=(
                f"content type {message.content_type!r} is not relier's {CONTENT_TYPE!r}: "
                "relier tasks must be sent with .push()/.apush()/.delay()"
            ),
            raw=bytes(message.body) if isinstance(message.body, bytes) else str(message.body).encode(),
        )
    return message.payload[0][0]


def dead_letter_message(relier: Relier, message: Any, failure: DecodeFailure) -> None:
    """Store a message that must never run, with its raw bytes and reason."""
    headers = dict(message.headers or {})
    routing = (message.delivery_info or {}).get("routing_key") or ""
    status = relier.store.dead_letter_raw(
        f"x-{message.delivery_tag}",
        reason=failure.reason,
        error=failure.error,
        raw=failure.raw,
        headers=headers,
        claimed_id=str(headers.get("id", "")),
        claimed_name=str(headers.get("task", "")),
        queue=str(routing),
    )
    logger.error(
        "message %s for task %s dead-lettered (%s): %s [%s]",
        message.delivery_tag, headers.get("task"), failure.reason, failure.error, status,
    )


def relier_strategy(task: Any, app: Any, consumer: Any, **kwargs: Any) -> Callable[..., Any]:
    inner = default(task, app, consumer, **kwargs)
    relier: Relier = task.relier
    hostname: str = consumer.hostname
    connection_errors = consumer.connection_errors

    def handle_message(message: Any, body: Any, ack: Any, reject: Any, callbacks: Any,
                       **options: Any) -> Any:
        decoded = _decoded(message)
        if isinstance(decoded, DecodeFailure):
            dead_letter_message(relier, message, decoded)
            ack(logger, connection_errors)
            return None
        node = worker_node(hostname)
        try:
            status = relier.store.receive(decoded.id, message.delivery_tag, node, node)
        except redis.RedisError as exc:
            # start is authoritative; a copy that cannot be recorded here is checked there.
            logger.warning("receive of %s not recorded (%s); passing it on", decoded.id, exc)
            status = "ok"
        if status != "ok":
            logger.info("dropping copy %s of task %s: %s", message.delivery_tag, decoded.id, status)
            ack(logger, connection_errors)
            return None
        return inner(message, body, ack, reject, callbacks, **options)

    return handle_message


def reject_in_pool(relier: Relier, request: Any, failure: DecodeFailure) -> None:
    """A pool process got a body the consumer did not check (a strategy was bypassed)."""
    from celery.exceptions import Ignore  # noqa: PLC0415 - keep the consumer path lean

    tag = str((request.properties or {}).get("delivery_tag", ""))
    routing = (request.delivery_info or {}).get("routing_key") or ""
    relier.store.dead_letter_raw(
        f"x-{tag}",
        reason=failure.reason,
        error=failure.error,
        raw=failure.raw,
        headers={"id": request.id, "task": request.task},
        claimed_id=str(request.id),
        claimed_name=str(request.task),
        queue=str(routing),
    )
    raise Ignore
