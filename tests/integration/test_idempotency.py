"""Idempotent tasks: one body execution per key, one committed result, released on failure."""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType

import pytest
import redis

import relier
from relier import (
    IdempotencyLockHeldError,
    IdempotencyResultNotSetError,
    TaskFailedError,
    TaskHandle,
)
from relier.dispatch import prepare_dispatch, push
from relier.packing import element
from relier.store import SHAPES
from relier.testing import CeleryWorker, RedisServer, stop_process, wait_until
from tests.support import KEYS, executions, running_pid, start_resurrector


def test_fifty_concurrent_pushes_run_the_body_once(
    basic_tasks: ModuleType, default_worker: CeleryWorker, redis_client: redis.Redis
) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        handles = list(pool.map(lambda _: basic_tasks.charge.push("cus_50", 5000), range(50)))
    assert len({handle.id for handle in handles}) == 1
    results = [handle.result(timeout=30) for handle in handles]
    assert results == [{"customer": "cus_50", "charged": 5000}] * 50
    assert executions(redis_client, handles[0].id) == 1


async def test_fifty_concurrent_apush_run_the_body_once(
    basic_tasks: ModuleType, default_worker: CeleryWorker, redis_client: redis.Redis
) -> None:
    handles = await asyncio.gather(*(basic_tasks.charge.apush("cus_a50", 7) for _ in range(50)))
    assert len({handle.id for handle in handles}) == 1
    assert await handles[0].aresult(timeout=30) == {"customer": "cus_a50", "charged": 7}
    assert executions(redis_client, handles[0].id) == 1


def test_fifty_redelivered_copies_run_the_body_once(
    basic_tasks: ModuleType, default_worker: CeleryWorker, redis_client: redis.Redis
) -> None:
    handle = basic_tasks.charge.push("cus_redelivered", 1)
    packed, ticket = redis_client.hmget(KEYS.record(handle.id), "packed", "ticket")
    copy = element(packed, f"{handle.id}.{ticket.decode()}")  # the live copy, as a script pushes it
    redis_client.lpush("default", *([copy] * 49))
    assert handle.result(timeout=30) == {"customer": "cus_redelivered", "charged": 1}
    wait_until(lambda: redis_client.llen("default") == 0, timeout=30)
    assert executions(redis_client, handle.id) == 1


def test_a_chosen_key_deduplicates_different_arguments(
    basic_tasks: ModuleType, default_worker: CeleryWorker, redis_client: redis.Redis
) -> None:
    first = basic_tasks.charge_by_order.push("a", 1, "order-77")
    second = basic_tasks.charge_by_order.push("b", 2, "order-77")
    assert second.id == first.id
    assert second.result(timeout=30) == "a:1"
    assert executions(redis_client, first.id) == 1


def test_killed_idempotent_task_reruns_once_and_its_effect_lands_once(
    basic_tasks: ModuleType, default_worker: CeleryWorker, redis_client: redis.Redis
) -> None:
    handle = basic_tasks.charge_once.push("order-9", 900)
    os.kill(running_pid(redis_client, handle.id), signal.SIGKILL)
    assert handle.result(timeout=30) == 900
    assert executions(redis_client, handle.id) == 2
    assert redis_client.get("test:charged:order-9") == b"1"


def _dispatch_bypassing_dedup(task: relier.RelierTask, *args: object) -> TaskHandle:
    """A second task with the same key, as a dead-letter release or a racing producer makes."""
    prepared = prepare_dispatch(task.runtime, task.spec, args, {})
    digest_at = 1 + SHAPES["dispatch"].args.index("idem_digest")  # after the shared maxlen
    prepared.call.args[digest_at] = ""  # skip the dispatch-side check: the worker must hold
    return push(task.runtime, prepared)


def test_completed_key_returns_the_stored_result_without_running(
    basic_tasks: ModuleType, default_worker: CeleryWorker, redis_client: redis.Redis
) -> None:
    first = basic_tasks.charge.push("cus_done", 3)
    assert first.result(timeout=30) == {"customer": "cus_done", "charged": 3}
    second = _dispatch_bypassing_dedup(basic_tasks.charge, "cus_done", 3)
    assert second.id != first.id
    assert second.result(timeout=30) == {"customer": "cus_done", "charged": 3}
    assert executions(redis_client, second.id) == 0
    assert redis_client.hget(KEYS.record(second.id), "deduplicated") == first.id.encode()


@pytest.fixture
def resurrector(redis_server: RedisServer, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    process = start_resurrector(redis_server.url, tmp_path / "resurrector.log")
    yield process
    stop_process(process)


def test_in_flight_key_defers_the_other_copy_until_the_first_finishes(
    basic_tasks: ModuleType,
    default_worker: CeleryWorker,
    resurrector: subprocess.Popen[bytes],
    redis_client: redis.Redis,
) -> None:
    first = basic_tasks.slow_idem.push(4)
    wait_until(lambda: executions(redis_client, first.id) == 1, timeout=30)
    second = _dispatch_bypassing_dedup(basic_tasks.slow_idem, 4)
    assert second.result(timeout=60) == 40
    assert first.result(timeout=5) == 40
    assert executions(redis_client, first.id) == 1
    assert executions(redis_client, second.id) == 0
    history = [entry["event"] for entry in basic_tasks.slow_idem.relier.store.history(second.id)]
    assert "deferred" in history


def test_a_failure_releases_the_key(
    basic_tasks: ModuleType, default_worker: CeleryWorker, redis_client: redis.Redis
) -> None:
    first = basic_tasks.fail_idem.push(1)
    with pytest.raises(TaskFailedError):
        first.result(timeout=30)
    second = basic_tasks.fail_idem.push(1)
    assert second.id != first.id
    with pytest.raises(TaskFailedError):
        second.result(timeout=30)
    assert executions(redis_client, second.id) == 1


def test_idempotency_lock_commits_once_and_releases_on_error(redis_server: RedisServer) -> None:
    calls = []
    for _ in range(3):
        with relier.idempotency_lock("refund:order-1", ttl=10) as lock:
            if not lock.already_done:
                calls.append("refund")
                lock.set_result({"refund": "re_1"})
        assert lock.result == {"refund": "re_1"}
    assert calls == ["refund"]
    with pytest.raises(ZeroDivisionError), relier.idempotency_lock("refund:order-2", ttl=10):
        raise ZeroDivisionError
    with relier.idempotency_lock("refund:order-2", ttl=10) as lock:
        assert not lock.already_done  # the failed holder released it
        with pytest.raises(IdempotencyLockHeldError), relier.idempotency_lock("refund:order-2"):
            pass
        lock.set_result(None)  # work with no value: recorded as done all the same
    with relier.idempotency_lock("refund:order-2", ttl=10) as lock:
        assert lock.already_done
        assert lock.result is None


def test_idempotency_lock_without_set_result_stores_nothing_and_says_so(
    redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    with pytest.raises(IdempotencyResultNotSetError, match=r"lock\.set_result\("), \
            relier.idempotency_lock("refund:order-4", ttl=10) as lock:
        assert not lock.already_done
    digest = hashlib.sha256(b"refund:order-4").hexdigest()
    assert not redis_client.exists(KEYS.lock(digest))  # released, nothing committed
    with relier.idempotency_lock("refund:order-4", ttl=10) as lock:
        assert not lock.already_done  # a later caller runs the work
        lock.set_result("re_4")
    assert lock.result == "re_4"


async def test_idempotency_lock_async(redis_server: RedisServer) -> None:
    with pytest.raises(IdempotencyResultNotSetError):
        async with relier.idempotency_lock("async:order-3", ttl=10) as lock:
            assert not lock.already_done
    async with relier.idempotency_lock("async:order-3", ttl=10) as lock:
        assert not lock.already_done  # the block without a result released the lock
        lock.set_result(3)
    async with relier.idempotency_lock("async:order-3", ttl=10) as again:
        assert again.already_done
        assert again.result == 3
