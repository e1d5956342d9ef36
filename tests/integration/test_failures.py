"""Failures end in the dead letters with their reason; bad messages never run or crash a worker."""

from __future__ import annotations

import json
import uuid
from types import ModuleType

import pytest
import redis

from relier import DeadLetterReason, TaskFailedError, TaskState
from relier.envelope import Envelope, seal
from relier.keys import Keys
from relier.message import build_message
from relier.testing import CeleryWorker, wait_until
from tests.support import executions, raw_dead_letter

KEYS = Keys()


def test_exception_dead_letters_with_traceback(
    basic_tasks: ModuleType, default_worker: CeleryWorker, redis_client: redis.Redis
) -> None:
    handle = basic_tasks.explode.push("card declined")
    with pytest.raises(TaskFailedError) as caught:
        handle.result(timeout=30)
    error = caught.value
    assert error.reason == DeadLetterReason.RETRIES_EXHAUSTED
    assert error.exc_type == "builtins.ValueError"
    assert error.message == "card declined"
    assert handle.state is TaskState.DEAD_LETTERED
    record = redis_client.hgetall(KEYS.record(handle.id))
    assert b"raise ValueError(message)" in record[b"traceback"]
    assert redis_client.zscore(KEYS.dead_letters, handle.id) is not None
    assert executions(redis_client, handle.id) == 1


def test_an_exception_that_cannot_be_rebuilt_dead_letters_and_the_worker_goes_on(
    basic_tasks: ModuleType, default_worker: CeleryWorker, redis_client: redis.Redis
) -> None:
    """Its constructor takes two arguments: unpickled from its args in the pool's parent, it
    would raise there."""
    handle = basic_tasks.explode_oddly.push(7)
    with pytest.raises(TaskFailedError) as caught:
        handle.result(timeout=30)
    assert caught.value.message == "7: declined"
    assert executions(redis_client, handle.id) == 1
    assert basic_tasks.add.push(1, 2).result(timeout=30) == 3


async def test_async_exception_dead_letters(
    basic_tasks: ModuleType, default_worker: CeleryWorker
) -> None:
    handle = await basic_tasks.explode_async.apush("missing")
    with pytest.raises(TaskFailedError) as caught:
        await handle.aresult(timeout=30)
    assert caught.value.exc_type == "builtins.KeyError"


def test_unencodable_result_is_a_failure_not_a_success(
    basic_tasks: ModuleType, default_worker: CeleryWorker, redis_client: redis.Redis
) -> None:
    handle = basic_tasks.unencodable.push()
    with pytest.raises(TaskFailedError) as caught:
        handle.result(timeout=30)
    assert caught.value.reason == DeadLetterReason.RESULT_UNENCODABLE
    assert "object" in caught.value.message
    assert redis_client.hget(KEYS.record(handle.id), "result") is None


def test_failed_migration_never_runs(
    basic_tasks: ModuleType, default_worker: CeleryWorker, redis_client: redis.Redis
) -> None:
    import dataclasses

    from relier.dispatch import prepare_dispatch, push

    old_spec = dataclasses.replace(basic_tasks.broken_migration.spec, version=1)
    relier = basic_tasks.broken_migration.relier
    handle = push(relier.runtime, prepare_dispatch(relier.runtime, old_spec, (7,), {}))
    with pytest.raises(TaskFailedError) as caught:
        handle.result(timeout=30)
    assert caught.value.reason == DeadLetterReason.MIGRATION_FAILED
    assert "cannot upgrade" in caught.value.message
    assert executions(redis_client, handle.id) == 0


def _push_raw(client: redis.Redis, body: bytes, *, task: str = "tests.add",
              content_type: str | None = None) -> tuple[str, str]:
    task_id = str(uuid.uuid4())
    tag = f"{task_id}.1"
    message = build_message(task_name=task, task_id=task_id, body=body, queue="default",
                            priority=0, time_limits=(None, None), args=(), kwargs={})
    raw = message.with_tag(tag)
    if content_type is not None:
        document = json.loads(raw)
        document["content-type"] = content_type
        raw = json.dumps(document)
    client.lpush("default", raw)
    return task_id, tag


def _sealed(task_id: str, kid: str, secret: bytes) -> bytes:
    return seal(Envelope(task="tests.add", id=task_id, args=(1, 2), queue="default"), kid, secret)


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("tampered", DeadLetterReason.BAD_SIGNATURE),
        ("unknown_key", DeadLetterReason.UNKNOWN_KEY),
        ("garbage", DeadLetterReason.UNDECODABLE),
        ("json_body", DeadLetterReason.CONTENT_REFUSED),
    ],
)
def test_bad_messages_become_dead_letters_and_worker_keeps_serving(
    case: str,
    reason: DeadLetterReason,
    basic_tasks: ModuleType,
    default_worker: CeleryWorker,
    redis_client: redis.Redis,
) -> None:
    settings = basic_tasks.add.relier.settings
    kid, secret = settings.signing_keys[0]
    if case == "tampered":
        body = bytearray(_sealed("t", kid, secret))
        body[-2] ^= 0x01
        task_id, _tag = _push_raw(redis_client, bytes(body))
    elif case == "unknown_key":
        task_id, _tag = _push_raw(redis_client, _sealed("t", "rotated-out", b"x" * 32))
    elif case == "garbage":
        task_id, _tag = _push_raw(redis_client, b"\xc1\xff not msgpack at all")
    else:
        task_id, _tag = _push_raw(redis_client, json.dumps([[1, 2], {}, {}]).encode(),
                                 content_type="application/json")
    entry = wait_until(lambda: raw_dead_letter(redis_client, task_id), timeout=30,
                       message=f"no dead letter for {case}")
    record = redis_client.hgetall(KEYS.record(entry))
    assert record[b"reason"].decode() == reason
    assert record[b"claimed_id"].decode() == task_id
    assert record[b"raw"]
    assert not redis_client.exists(f"test:exec:{task_id}")
    assert basic_tasks.add.push(20, 22).result(timeout=30) == 42
    assert "Can't decode message body" not in default_worker.log()
