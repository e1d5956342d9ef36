"""Rewriting what Celery reads of a signed message never runs anything but the signed task.

Each test task is pushed for real (record and signed message), then its queued message is
rewritten in place before a worker consumes the queue: one field per task. The worker must
run none of them; a forgery of what decides execution ends the task's record as ``tampered``
at once (its caller learns why), and anything unverifiable is kept as a raw dead letter.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import redis

from relier import DeadLetterReason, TaskHandle
from relier.packing import element_text
from relier.testing import RedisServer, wait_until
from tests.conftest import start_worker
from tests.support import KEYS, executions, raw_dead_letter, reconciling_resurrector

QUEUE = "forge"
Edit = Callable[[dict[str, Any], str], None]


def _header(key: str, value: Any) -> Edit:
    return lambda document, other_id: document["headers"].__setitem__(key, value)


def _property(key: str, value: Any) -> Edit:
    return lambda document, other_id: document["properties"].__setitem__(key, value)


#: Forgeries of a field Celery uses to decide what runs, how long, when or whether at all.
TAMPERING: dict[str, Edit] = {
    "task-other-relier-task": _header("task", "tests.explode"),
    "task-plain-task": _header("task", "celery.accumulate"),
    "task-unknown-name": _header("task", "no.such.task"),
    "id-of-another-task": lambda document, other_id: document["headers"].__setitem__("id", other_id),
    "timelimit": _header("timelimit", [0.5, 0.2]),
    "eta": _header("eta", "2999-01-01T00:00:00+00:00"),
    "expires": _header("expires", "2000-01-01T00:00:00+00:00"),
    "retries": _header("retries", 3),
    "root-id": _header("root_id", "other"),
    "group": _header("group", "forged-group"),
    "chord": _header("chord", {"task": "tests.explode", "args": ["chord"]}),
    "callbacks": _header("callbacks", [{"task": "tests.explode", "args": ["link"]}]),
    "reply-to": _property("reply_to", "attacker"),
    "correlation-id": _property("correlation_id", "attacker"),
}

#: Forgeries that make the message unverifiable: kept raw. A bad signature on the live copy
#: also ends the task it claims (its caller learns why at once; releasable, its stored message
#: is intact); any other refusal leaves the record to reconciliation.
UNVERIFIABLE: dict[str, tuple[Edit, DeadLetterReason]] = {
    "body-bit-flip": (lambda document, other_id: document.__setitem__("body", base64.b64encode(
        _flip(base64.b64decode(document["body"]))).decode()), DeadLetterReason.BAD_SIGNATURE),
    "content-type-json": (lambda document, other_id: document.__setitem__(
        "content-type", "application/json"), DeadLetterReason.CONTENT_REFUSED),
}


def _flip(body: bytes) -> bytes:
    return body[:-2] + bytes([body[-2] ^ 1]) + body[-1:]


def _rewrite(client: redis.Redis, task_id: str, edit: Edit, other_id: str) -> None:
    for index, element in enumerate(client.lrange(QUEUE, 0, -1)):
        document = json.loads(element_text(element))
        if document["headers"]["id"] == task_id:
            edit(document, other_id)
            client.lset(QUEUE, index, json.dumps(document))
            return
    raise AssertionError(f"message of {task_id} not queued")


def _state(client: redis.Redis, handle: TaskHandle) -> tuple[str, str]:
    state, reason = client.hmget(KEYS.record(handle.id), "state", "reason")
    return (state or b"").decode(), (reason or b"").decode()


def test_forged_headers_never_run_anything_but_the_signed_task(
    basic_tasks: ModuleType, redis_server: RedisServer, redis_client: redis.Redis, tmp_path: Path,
) -> None:
    bystander = basic_tasks.add.push_with((0, 0), queue=QUEUE)
    forged = {name: basic_tasks.add.push_with((1, 1), queue=QUEUE) for name in TAMPERING}
    unverifiable = {name: basic_tasks.add.push_with((2, 2), queue=QUEUE) for name in UNVERIFIABLE}
    for name, handle in forged.items():
        _rewrite(redis_client, handle.id, TAMPERING[name], bystander.id)
    for name, handle in unverifiable.items():
        _rewrite(redis_client, handle.id, UNVERIFIABLE[name][0], bystander.id)

    worker = start_worker(redis_server, tmp_path, queues=(QUEUE,)).wait_ready()
    try:
        wait_until(lambda: all(_state(redis_client, h)[0] == "dead_lettered" for h in forged.values()),
                   timeout=60, message=lambda: {n: _state(redis_client, h) for n, h in forged.items()})
        for name, handle in forged.items():
            assert _state(redis_client, handle) == ("dead_lettered", "tampered"), name
            assert "altered after signing" in redis_client.hget(KEYS.record(handle.id), "error").decode()
        for name, handle in unverifiable.items():
            entry = wait_until(lambda h=handle: raw_dead_letter(redis_client, h.id), timeout=30,
                               message=f"no raw dead letter for {name}")
            reason = redis_client.hget(KEYS.record(entry), "reason").decode()
            assert reason == UNVERIFIABLE[name][1], name
            if reason == DeadLetterReason.BAD_SIGNATURE:  # the live copy: the task ends with it
                # the raw copy is kept first, then the record ends: wait for the second step
                wait_until(lambda h=handle: _state(redis_client, h)[0] != "queued", timeout=30,
                           message=f"{name} still queued")
                assert _state(redis_client, handle) == ("dead_lettered", reason), name
            else:
                assert _state(redis_client, handle)[0] == "queued", name  # changes nothing
        assert bystander.result(timeout=30) == 0
        every = [bystander, *forged.values(), *unverifiable.values()]
        assert {h.id: executions(redis_client, h.id) for h in every} == {
            h.id: 1 if h is bystander else 0 for h in every}
        assert worker.process is not None
        assert worker.process.poll() is None
        assert basic_tasks.add.push_with((3, 4), queue=QUEUE).result(timeout=30) == 7
        # a task ended by its unverifiable copy is released with the message its producer
        # signed; the other refused copies were never the task: reconciliation re-queues it
        for handle in unverifiable.values():
            if _state(redis_client, handle)[0] == "dead_lettered":
                assert basic_tasks.add.relier.dead_letters.release(handle.id) == "queued"
        resurrector = reconciling_resurrector(basic_tasks.add.relier, reconcile_after=0.2)
        wait_until(lambda: resurrector.run_pass() and all(
            _state(redis_client, h)[0] == "completed" for h in unverifiable.values()), timeout=30)
        assert [executions(redis_client, h.id) for h in unverifiable.values()] == [1, 1]
    finally:
        worker.stop()
