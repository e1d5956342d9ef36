"""The first decode of every element a worker pops from a queue, before kombu or Celery.

`inspect_element` is the rule, a pure function: an element becomes kombu's payload only if it
is a well-formed kombu message whose task this worker runs, in a content type this worker
accepts, and (for relier's content type) names a relier task. Everything else is a
`Refusal` with a reason; a relier message for a task this worker does not know is an
`UnknownRelierTask`, bounced for a newer worker unless its signed envelope shows that the
header was rewritten. `Gate` applies the rule in the consumer and keeps refused elements as
dead letters with their raw bytes (retrying while Redis is unreachable).
"""

from __future__ import annotations

import binascii
import logging
from base64 import b64decode
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import redis
from kombu.utils.json import loads as kombu_loads

from relier.display import safe_text
from relier.envelope import DecodeFailure, Envelope, open_sealed
from relier.message import CONTENT_TYPE
from relier.packing import PackedElementError, is_packed, unpack_element
from relier.raw_dead_letters import DeadLetterKeeper, RawDeadLetter, Refusal
from relier.reasons import DeadLetterReason
from relier.store import Store

logger = logging.getLogger("relier.worker")

#: What a task name is to this worker: one of its relier tasks, another registered task, or
#: unknown (None).
TaskKind = Literal["relier", "plain"] | None

@dataclass(frozen=True, slots=True)
class GateRules:
    """What this worker runs and accepts."""

    task_kind: Callable[[str], TaskKind]
    accepted: frozenset[str]
    verification_keys: Mapping[str, bytes]


@dataclass(frozen=True, slots=True)
class UnknownRelierTask:
    """A verified relier message for a task this worker does not have (a rolling deploy)."""

    envelope: Envelope
    tag: str


@dataclass(frozen=True, slots=True)
class TamperedRelierMessage:
    """A verified envelope whose unsigned headers name another task: the task's record ends
    ``tampered`` if it still waits for this copy; the element is kept either way."""

    envelope: Envelope
    tag: str
    refusal: Refusal


Verdict = dict[str, Any] | Refusal | UnknownRelierTask | TamperedRelierMessage


def _undecodable(error: str, headers: dict[str, Any] | None = None) -> Refusal:
    return Refusal(DeadLetterReason.UNDECODABLE, error, headers or {})


def _properties_problem(payload: dict[str, Any]) -> str | None:
    properties = payload.get("properties")
    if not isinstance(properties, dict):
        return "no 'properties' object"
    tag = properties.get("delivery_tag")
    info = properties.get("delivery_info")
    problems = {
        "properties.delivery_tag is not a non-empty string": not isinstance(tag, str) or not tag,
        "properties.delivery_info lacks exchange and routing_key strings": not isinstance(
            info, dict) or not all(isinstance(info.get(k), str) for k in ("exchange", "routing_key")),
        "properties.priority is not a number": not isinstance(properties.get("priority", 0),
                                                              int | None),
    }
    return next((problem for problem, found in problems.items() if found), None)


def _envelope_problem(payload: dict[str, Any]) -> str | None:
    if not isinstance(payload.get("headers"), dict):
        return "no 'headers' object (protocol 1 messages are not accepted)"
    for key in ("content-type", "content-encoding"):
        if not isinstance(payload.get(key), str):
            return f"{key} is not a string"
    headers = payload["headers"]
    for key in ("task", "id"):
        if not isinstance(headers.get(key), str) or not headers[key]:
            return f"headers.{key} is not a non-empty string"
    return None


def _body_problem(payload: dict[str, Any]) -> str | None:
    body = payload.get("body")
    encoding = payload["properties"].get("body_encoding")
    if body in (None, ""):
        return None
    if not isinstance(body, str):
        return "body is not a string"
    if encoding is None:
        return None
    if encoding != "base64":
        return f"unknown body_encoding {encoding!r}"
    try:
        b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        return "body is not valid base64"
    return None


def _sealed_body(payload: dict[str, Any]) -> bytes:
    body = payload.get("body") or ""
    if payload["properties"].get("body_encoding") == "base64":
        return b64decode(body)
    return str(body).encode("utf-8", errors="surrogateescape")


def _parse(item: bytes) -> dict[str, Any] | Refusal:
    """The element as a kombu message that kombu and Celery can handle, or a refusal."""
    if is_packed(item):
        try:
            item = unpack_element(item)
        except PackedElementError as exc:
            return _undecodable(f"a packed relier element that does not unpack: {exc}")
    try:
        payload = kombu_loads(item.decode("utf-8"))  # type: ignore[no-untyped-call]
    except UnicodeDecodeError:
        return _undecodable("the element is not UTF-8 text, so not a kombu message")
    except (ValueError, TypeError, RecursionError) as exc:
        return _undecodable(f"the element is not a kombu message (not JSON: {exc})")
    if not isinstance(payload, dict):
        return _undecodable(f"a JSON {type(payload).__name__}, not a kombu message object")
    headers = payload.get("headers")
    for check in (_properties_problem, _envelope_problem, _body_problem):
        problem = check(payload)
        if problem:
            return _undecodable(f"not a Celery task message: {problem}",
                                headers if isinstance(headers, dict) else None)
    return payload


def inspect_element(item: bytes, queue: str, rules: GateRules) -> Verdict:
    """kombu's payload for an element popped from `queue`, or why it must not be delivered."""
    payload = _parse(item)
    if isinstance(payload, Refusal):
        return payload
    headers: dict[str, Any] = payload["headers"]
    content_type: str = payload["content-type"]
    name: str = headers["task"]
    kind = rules.task_kind(name)
    if content_type != CONTENT_TYPE:
        return _plain_verdict(payload, name, kind, rules)
    if headers.get("compression") is not None:
        return Refusal(DeadLetterReason.TAMPERED,
                       "relier messages are never compressed: a compression header was added",
                       headers)
    if kind != "relier":
        return _not_a_relier_task(payload, name, kind, rules)
    # where the element really was, not where its (unsigned) properties say it was
    payload["properties"]["delivery_info"].update(exchange="", routing_key=queue)
    return payload


def _plain_verdict(payload: dict[str, Any], name: str, kind: TaskKind, rules: GateRules) -> Verdict:
    """A message in another content type: Celery's own, for Celery's own tasks only."""
    headers: dict[str, Any] = payload["headers"]
    content_type = payload["content-type"]
    if kind is None:
        return Refusal(DeadLetterReason.UNKNOWN_TASK,
                       f"no task named {name!r} is registered on this worker", headers)
    if kind == "relier":
        return Refusal(DeadLetterReason.CONTENT_REFUSED,
                       f"relier task {name!r} arrived as {content_type!r}, unsigned: relier "
                       "tasks are sent with push()/apply_async() of the task", headers)
    if content_type not in rules.accepted:
        return Refusal(DeadLetterReason.CONTENT_REFUSED,
                       f"content type {content_type!r} is not in this worker's accept_content",
                       headers)
    return payload


def _not_a_relier_task(payload: dict[str, Any], name: str, kind: TaskKind,
                       rules: GateRules) -> Verdict:
    """A signed message whose header names a task this worker does not run as relier's."""
    headers: dict[str, Any] = payload["headers"]
    opened = open_sealed(_sealed_body(payload), rules.verification_keys)
    if isinstance(opened, DecodeFailure):
        return Refusal(opened.reason, opened.error, headers)
    tag = payload["properties"]["delivery_tag"]
    if kind is None and opened.task == name and opened.id == headers["id"]:
        return UnknownRelierTask(opened, tag)
    return TamperedRelierMessage(opened, tag, Refusal(
        DeadLetterReason.TAMPERED,
        f"the message was altered after signing: headers name task {name!r} "
        f"({headers['id']}), the signed envelope {opened.task!r} ({opened.id})", headers))


class Gate:
    """`inspect_element` in a worker's consumer, keeping refused elements as dead letters."""

    def __init__(self, store: Store, rules: GateRules, worker: str,
                 keeper: DeadLetterKeeper) -> None:
        self._store = store
        self._rules = rules
        self._worker = worker
        self.keeper = keeper

    def admit(self, item: bytes, queue: str) -> dict[str, Any] | None:
        self.keeper.flush()
        try:
            verdict = inspect_element(bytes(item), queue, self._rules)
        except Exception as exc:  # a bug in the rule must not end the consumer  # noqa: BLE001
            verdict = _undecodable(f"the gate could not read the element: {exc!r}")
        if isinstance(verdict, dict):
            return verdict
        if isinstance(verdict, UnknownRelierTask):
            self._bounce(verdict)
            return None
        if isinstance(verdict, TamperedRelierMessage):
            if self._end_tampered(verdict):
                return None
            verdict = verdict.refusal
        self.keeper.keep(RawDeadLetter(bytes(item), queue, verdict))
        return None

    def _end_tampered(self, tampered: TamperedRelierMessage) -> bool:
        """Whether the task's record took the dead letter (this was its live copy)."""
        envelope = tampered.envelope
        try:
            status = self._store.reject(envelope.id, tampered.tag, self._worker,
                                        DeadLetterReason.TAMPERED, tampered.refusal.error,
                                        retry=False, idem=envelope.idempotency_key or "")
        except redis.RedisError:
            return False
        logger.error("task %s dead-lettered: %s", safe_text(envelope.id),
                     safe_text(tampered.refusal.error))
        return status == "ok"

    def reject_undeliverable(self, item: bytes, queue: str, error: BaseException) -> None:
        logger.error("an element of %s could not be delivered: %s: %s", queue,
                     type(error).__name__, safe_text(error), exc_info=error)
        self.keeper.keep(RawDeadLetter(bytes(item), queue, _undecodable(
            f"kombu or Celery could not handle the message: {type(error).__name__}: {error}")))

    def _bounce(self, unknown: UnknownRelierTask) -> None:
        envelope = unknown.envelope
        error = f"no task named {envelope.task!r} is registered on this worker"
        try:
            status = self._store.bounce(
                envelope.id, unknown.tag, self._worker, DeadLetterReason.UNKNOWN_TASK, error,
                idem=envelope.idempotency_key or "", retry=False)
        except redis.RedisError as exc:  # the copy stays queued in its record: reconcile finds it
            logger.warning("relier task %s: %s; bounce not recorded (%s)",
                           safe_text(envelope.id), safe_text(error), exc)
            return
        logger.error("relier task %s: %s [%s]", safe_text(envelope.id), safe_text(error), status)
