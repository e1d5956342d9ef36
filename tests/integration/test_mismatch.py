"""A producer and a worker that disagree on signing keys or key prefix: the task ends with
the reason within seconds (one delivery), not minutes later as ``lost_in_broker``."""

from __future__ import annotations

import base64
import json
import time
from types import ModuleType

import pytest
import redis
from celery import Celery

from relier import DeadLetterReason, Relier, TaskFailedError
from relier.config import DEVELOPMENT_KEY_ID, DEVELOPMENT_SECRET_KEY
from relier.envelope import DecodeFailure, open_sealed, seal
from relier.keys import Keys
from relier.packing import element_text
from relier.testing import CeleryWorker, RedisServer, wait_until
from tests.support import KEYS, executions, raw_dead_letter, settings_for

OTHER_SECRET = "x" * 40


def _producer(redis_server: RedisServer, name: str, **env: str) -> Relier:
    """Another process's binding of the same task name (``tests.add``), with its own settings."""
    app = Celery(name, broker=redis_server.url, set_as_current=False)
    app.conf.task_default_queue = "default"  # where the test worker consumes
    relier = Relier(app, settings=settings_for(redis_server.url, **env))

    @relier.task(name="tests.add")
    def add(a: int, b: int) -> int:
        return a + b

    return relier


@pytest.mark.parametrize(("keys", "reason"), [
    (f"elsewhere:{OTHER_SECRET}", DeadLetterReason.UNKNOWN_KEY),
    (f"{DEVELOPMENT_KEY_ID}:{OTHER_SECRET}", DeadLetterReason.BAD_SIGNATURE),
])
def test_a_key_mismatch_ends_the_task_at_its_first_delivery(
    keys: str, reason: DeadLetterReason, basic_tasks: ModuleType, default_worker: CeleryWorker,
    redis_server: RedisServer, redis_client: redis.Redis,
) -> None:
    producer = _producer(redis_server, f"mismatch-{reason}", RELIER_SECRET_KEYS=keys)
    began = time.monotonic()
    handle = producer.tasks["tests.add"].push(1, 2)
    with pytest.raises(TaskFailedError) as caught:
        handle.result(timeout=30)
    assert time.monotonic() - began < 10
    assert caught.value.reason == reason
    assert "RELIER_SECRET_KEYS" in str(caught.value)
    assert executions(redis_client, handle.id) == 0
    assert raw_dead_letter(redis_client, handle.id) is not None  # the copy, kept with its bytes
    assert basic_tasks.add.push(2, 2).result(timeout=30) == 4


def test_an_unverifiable_copy_that_is_not_the_live_one_changes_nothing(
    basic_tasks: ModuleType, default_worker: CeleryWorker, redis_client: redis.Redis,
) -> None:
    waiting = basic_tasks.add.push_with((5, 5), queue="mismatch-nobody")  # its live copy waits
    element = json.loads(element_text(redis_client.lindex("mismatch-nobody", 0) or b"{}"))
    envelope = open_sealed(base64.b64decode(element["body"]),
                           {DEVELOPMENT_KEY_ID: DEVELOPMENT_SECRET_KEY.encode()})
    assert not isinstance(envelope, DecodeFailure)
    element["body"] = base64.b64encode(seal(envelope, "elsewhere", OTHER_SECRET.encode())).decode()
    element["properties"]["delivery_tag"] = f"{waiting.id}.0"  # an older ticket's copy
    element["properties"]["delivery_info"]["routing_key"] = "default"
    redis_client.lpush("default", json.dumps(element))
    wait_until(lambda: raw_dead_letter(redis_client, waiting.id), timeout=30,
               message="the unverifiable copy was never dead-lettered")
    assert redis_client.hget(KEYS.record(waiting.id), "state") == b"queued"


def test_a_key_prefix_mismatch_ends_the_task_in_the_producers_keyspace(
    basic_tasks: ModuleType, default_worker: CeleryWorker, redis_server: RedisServer,
    redis_client: redis.Redis,
) -> None:
    producer = _producer(redis_server, "mismatch-prefix", RELIER_KEY_PREFIX="elsewhere")
    began = time.monotonic()
    handle = producer.tasks["tests.add"].push(3, 4)
    with pytest.raises(TaskFailedError) as caught:
        handle.result(timeout=30)
    assert time.monotonic() - began < 10
    assert caught.value.reason == DeadLetterReason.KEY_PREFIX_MISMATCH
    assert "'elsewhere'" in str(caught.value)
    foreign = Keys("elsewhere")
    assert redis_client.zscore(foreign.dead_letters, handle.id) is not None
    assert redis_client.exists(KEYS.record(handle.id)) == 0  # nothing written in the worker's
