"""Soft and hard timeouts for sync and async bodies, with real pool processes ended."""

from __future__ import annotations

import os
from pathlib import Path
from types import ModuleType

import msgspec
import pytest
import redis

from relier import DeadLetterReason, TaskFailedError
from relier.procinfo import is_gone
from relier.testing import FAST_LEASES, CeleryWorker, RedisServer, wait_until
from tests.conftest import start_worker
from tests.support import KEYS, events_of, executions, running_pid


def assert_hard_timeout(handle: object) -> TaskFailedError:
    with pytest.raises(TaskFailedError) as caught:
        handle.result(timeout=30)  # type: ignore[attr-defined]
    assert caught.value.reason == DeadLetterReason.HARD_TIMEOUT
    return caught.value


@pytest.mark.parametrize("task_name", ["stuck_sleep", "busy_loop", "hang_async"])
def test_hard_timeout_ends_the_body_and_replaces_the_process(
    task_name: str, basic_tasks: ModuleType, default_worker: CeleryWorker,
    redis_client: redis.Redis,
) -> None:
    task = getattr(basic_tasks, task_name)
    bystander = basic_tasks.add.push(20, 1)
    handle = task.push()
    pid = running_pid(redis_client, handle.id)
    assert_hard_timeout(handle)
    wait_until(lambda: is_gone(pid), timeout=15, message=f"pool process {pid} still alive")
    assert executions(redis_client, handle.id) == 1
    assert bystander.result(timeout=30) == 21
    assert basic_tasks.add.push(1, 2).result(timeout=30) == 3


def test_hard_timeout_also_ends_subprocesses_of_the_body(
    basic_tasks: ModuleType, default_worker: CeleryWorker, redis_client: redis.Redis
) -> None:
    handle = basic_tasks.spawner.push()
    grandchild = int(wait_until(lambda: redis_client.get(f"test:grandchild:{handle.id}"),
                                timeout=30))
    assert_hard_timeout(handle)
    wait_until(lambda: is_gone(grandchild), timeout=15,
               message=f"the body's subprocess {grandchild} outlived the hard timeout")


@pytest.mark.parametrize("task_name", ["soft_then_hard", "async_soft_then_hard"])
def test_soft_hook_checkpoints_before_the_hard_stop(
    task_name: str, basic_tasks: ModuleType, default_worker: CeleryWorker,
    redis_client: redis.Redis,
) -> None:
    handle = getattr(basic_tasks, task_name).push()
    assert_hard_timeout(handle)
    record = redis_client.hgetall(KEYS.record(handle.id))
    assert record[b"state"] == b"dead_lettered"
    saved = msgspec.msgpack.decode(record[b"partial"])
    assert saved in ({"done": 41, "attempt": 1}, {"async": True})
    types = [event[b"type"] for event in events_of(redis_client, handle.id)]
    assert types.index(b"checkpointed") < types.index(b"timed_out")


def test_next_attempt_reads_the_checkpoint(
    basic_tasks: ModuleType, default_worker: CeleryWorker, redis_client: redis.Redis
) -> None:
    handle = basic_tasks.soft_then_killed.push()
    pid = running_pid(redis_client, handle.id)
    wait_until(lambda: any(e[b"type"] == b"checkpointed" for e in events_of(redis_client, handle.id)),
               timeout=30)
    os.kill(pid, 9)
    assert handle.result(timeout=30) == {"done": 41, "attempt": 1}
    assert executions(redis_client, handle.id) == 2


def test_users_own_timeout_error_is_an_ordinary_failure(
    basic_tasks: ModuleType, default_worker: CeleryWorker
) -> None:
    with pytest.raises(TaskFailedError) as caught:
        basic_tasks.own_timeout.push().result(timeout=30)
    assert caught.value.reason == DeadLetterReason.RETRIES_EXHAUSTED
    assert caught.value.exc_type == "builtins.TimeoutError"


@pytest.mark.parametrize("pool", ["threads", "solo"])
def test_pools_without_process_kill_cancel_async_and_fence_sync(
    pool: str, basic_tasks: ModuleType, redis_server: RedisServer, redis_client: redis.Redis,
    tmp_path: Path,
) -> None:
    queue = f"timeouts-{pool}"
    worker = start_worker(redis_server, tmp_path, queues=(queue,), pool=pool,
                          concurrency=4 if pool == "threads" else 1, env=FAST_LEASES).wait_ready()
    try:
        hung = basic_tasks.hang_async.push_with((), queue=queue)
        assert_hard_timeout(hung)
        zombie = basic_tasks.zombie_checkpoint.push_with((), queue=queue)
        assert_hard_timeout(zombie)
        wait_until(lambda: redis_client.get(f"test:fenced:{zombie.id}"), timeout=30,
                   message="the zombie's late checkpoint was not rejected")
        assert redis_client.hget(KEYS.record(zombie.id), "partial") is None
        assert redis_client.hget(KEYS.record(zombie.id), "state") == b"dead_lettered"
        assert basic_tasks.add.push_with((5, 5), queue=queue).result(timeout=30) == 10
    finally:
        worker.stop()
    assert "cannot end a task body" in worker.log()


def test_oversized_checkpoint_is_a_clear_error(
    basic_tasks: ModuleType, default_worker: CeleryWorker
) -> None:
    with pytest.raises(TaskFailedError) as caught:
        basic_tasks.big_checkpoint.push().result(timeout=30)
    assert caught.value.exc_type == "relier.errors.CheckpointTooLargeError"
    assert "RELIER_MAX_CHECKPOINT_BYTES" in caught.value.message
