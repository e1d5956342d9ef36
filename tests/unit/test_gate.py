"""The consumer's first decode: what each element popped from a queue becomes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from relier.envelope import Envelope, seal
from relier.message import CONTENT_TYPE, build_message
from relier.reasons import DeadLetterReason
from relier.worker.gate import GateRules, Refusal, TamperedRelierMessage, UnknownRelierTask, inspect_element

KEYS = {"k": b"s" * 32}
TASKS = {"t.relier": "relier", "t.plain": "plain"}
RULES = GateRules(task_kind=TASKS.get, accepted=frozenset({"application/json", CONTENT_TYPE}),  # type: ignore[arg-type]
                  verification_keys=KEYS)


def _element(task: str = "t.relier", *, signed_task: str | None = None,
             task_id: str = "i1") -> dict[str, Any]:
    body = seal(Envelope(task=signed_task or task, id=task_id, queue="q"), "k", KEYS["k"])
    message = build_message(task_name=task, task_id=task_id, body=body, queue="q", priority=0,
                            time_limits=(None, None), args=(), kwargs={})
    document: dict[str, Any] = json.loads(message.with_tag(f"{task_id}.1"))
    return document


def _inspect(document: Any, queue: str = "q") -> Any:
    raw = document if isinstance(document, bytes) else json.dumps(document).encode()
    return inspect_element(raw, queue, RULES)


def test_a_relier_message_passes_with_its_real_queue() -> None:
    payload = _inspect(_element(), queue="real")
    assert isinstance(payload, dict)
    assert payload["properties"]["delivery_info"] == {"exchange": "", "routing_key": "real"}


@pytest.mark.parametrize("raw", [b"", b"\xff\xfe", b"[1, 2]", b'"text"', b"{", b"[" * 50_000,
                                 b'{"properties": {}}', b'{"body": 1, "properties": {"delivery_tag": "a"}}'])
def test_what_is_not_a_kombu_message_is_undecodable(raw: bytes) -> None:
    verdict = _inspect(raw)
    assert isinstance(verdict, Refusal)
    assert verdict.reason is DeadLetterReason.UNDECODABLE


@pytest.mark.parametrize(("edit", "reason"), [
    (lambda d: d["headers"].__setitem__("task", ["x"]), DeadLetterReason.UNDECODABLE),
    (lambda d: d["headers"].__setitem__("id", None), DeadLetterReason.UNDECODABLE),
    (lambda d: d.__setitem__("body", "***"), DeadLetterReason.UNDECODABLE),
    (lambda d: d["properties"].__setitem__("body_encoding", "rot13"), DeadLetterReason.UNDECODABLE),
    (lambda d: d.__setitem__("content-type", "application/json"), DeadLetterReason.CONTENT_REFUSED),
    (lambda d: d.__setitem__("content-type", "application/x-python-serialize"),
     DeadLetterReason.CONTENT_REFUSED),
    (lambda d: d["headers"].__setitem__("compression", "zlib"), DeadLetterReason.TAMPERED),
])
def test_broken_fields_are_refused_with_a_reason(edit: Any, reason: DeadLetterReason) -> None:
    document = _element()
    edit(document)
    verdict = _inspect(document)
    assert isinstance(verdict, Refusal)
    assert verdict.reason is reason


def test_a_signed_message_renamed_to_another_task_is_tampering() -> None:
    document = _element()
    document["headers"]["task"] = "t.plain"
    verdict = _inspect(document)
    assert isinstance(verdict, TamperedRelierMessage)
    assert verdict.envelope.task == "t.relier"


def test_a_signed_message_for_an_unknown_task_is_a_rolling_deploy() -> None:
    assert isinstance(_inspect(_element("t.newer")), UnknownRelierTask)
    assert isinstance(_inspect(_element("t.newer", signed_task="t.relier")), TamperedRelierMessage)


def test_plain_messages_follow_celery_for_celery_tasks_only() -> None:
    document = _element("t.plain")
    document["content-type"] = "application/json"
    assert isinstance(_inspect(document), dict)
    document["headers"]["task"] = "t.nobody"
    verdict = _inspect(document)
    assert isinstance(verdict, Refusal)
    assert verdict.reason is DeadLetterReason.UNKNOWN_TASK
