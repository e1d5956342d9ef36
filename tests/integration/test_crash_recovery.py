"""Phoenix: processes really killed and paused; executions counted in Redis."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import redis

from relier import DeadLetterReason, TaskFailedError
from relier.testing import FAST_LEASES, CeleryWorker, RedisServer, stop_process, wait_until
from tests.conftest import start_worker
from tests.support import KEYS, executions, resurrection_events, running_pid, start_resurrector


@pytest.fixture
def resurrector(redis_server: RedisServer, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    process = start_resurrector(redis_server.url, tmp_path / "resurrector.log")
    yield process
    stop_process(process)


@pytest.fixture
def fast_worker(redis_server: RedisServer, tmp_path: Path) -> Iterator[CeleryWorker]:
    worker = start_worker(redis_server, tmp_path / "a", env=FAST_LEASES).wait_ready()
    yield worker
    worker.kill()


def test_killed_pool_process_is_requeued_at_once(
    basic_tasks: ModuleType, fast_worker: CeleryWorker, redis_client: redis.Redis
) -> None:
    for _ in range(3):
        handle = basic_tasks.hold.push(60)
        os.kill(running_pid(redis_client, handle.id), signal.SIGKILL)
        result = handle.result(timeout=30)
        assert result["attempt"] == 2
        assert result["fence"] == 3  # start 1, lost bumps to 2, the new start to 3
        assert executions(redis_client, handle.id) == 2
        history = [entry["event"] for entry in basic_tasks.hold.relier.store.history(handle.id)]
        assert history == ["started", "lost", "started", "completed"]
        resurrected = redis_client.hget(KEYS.record(handle.id), "resurrections")
        assert resurrected == b"1"


def test_poison_pill_is_dead_lettered_after_the_cap(
    basic_tasks: ModuleType, fast_worker: CeleryWorker, redis_client: redis.Redis
) -> None:
    handle = basic_tasks.poison.push()
    with pytest.raises(TaskFailedError) as caught:
        handle.result(timeout=60)
    assert caught.value.reason == DeadLetterReason.MAX_RESURRECTIONS
    assert executions(redis_client, handle.id) == 3
    history = basic_tasks.poison.relier.store.history(handle.id)
    assert [entry["event"] for entry in history].count("lost") == 3
    assert basic_tasks.add.push(1, 1).result(timeout=30) == 2


def test_whole_worker_killed_tasks_move_to_another_worker(
    basic_tasks: ModuleType,
    redis_server: RedisServer,
    fast_worker: CeleryWorker,
    resurrector: subprocess.Popen[bytes],
    redis_client: redis.Redis,
    tmp_path: Path,
) -> None:
    handles = [basic_tasks.hold.push(60) for _ in range(2)]
    for handle in handles:
        running_pid(redis_client, handle.id)
    fast_worker.kill()
    replacement = start_worker(redis_server, tmp_path / "b", env=FAST_LEASES).wait_ready()
    try:
        results = [handle.result(timeout=60) for handle in handles]
    finally:
        replacement.kill()
    assert [result["attempt"] for result in results] == [2, 2]
    assert [executions(redis_client, handle.id) for handle in handles] == [2, 2]


def test_paused_worker_is_fenced_off_and_newer_attempt_wins(
    basic_tasks: ModuleType,
    redis_server: RedisServer,
    fast_worker: CeleryWorker,
    resurrector: subprocess.Popen[bytes],
    redis_client: redis.Redis,
    tmp_path: Path,
) -> None:
    handle = basic_tasks.hold.push(3)
    running_pid(redis_client, handle.id)
    os.killpg(fast_worker.pid, signal.SIGSTOP)
    try:
        replacement = start_worker(redis_server, tmp_path / "b", env=FAST_LEASES).wait_ready()
        try:
            result = handle.result(timeout=60)
        finally:
            os.killpg(fast_worker.pid, signal.SIGCONT)
        # The paused attempt wakes up and tries to finish; it must not overwrite the result.
        wait_until(
            lambda: any(
                fields.get(b"type") == b"rejected_write" and fields.get(b"id") == handle.id.encode()
                for _, fields in redis_client.xrange(KEYS.events)
            ) or b"was reaped" in fast_worker.log().encode(),
            timeout=30,
        )
    finally:
        replacement.kill()
    assert result["attempt"] == 2
    assert handle.result(timeout=5)["attempt"] == 2
    assert redis_client.hget(KEYS.record(handle.id), "fence") == b"3"


def test_async_body_blocking_its_loop_is_not_taken_for_dead(
    basic_tasks: ModuleType,
    fast_worker: CeleryWorker,
    resurrector: subprocess.Popen[bytes],
    redis_client: redis.Redis,
) -> None:
    handle = basic_tasks.block_loop.push(7.5)  # 3 x (TTL + refresh interval) of FAST_LEASES
    assert handle.result(timeout=60) == 1
    assert executions(redis_client, handle.id) == 1
    assert resurrection_events(redis_client, handle.id) == []


def test_celery_acks_late_settings_cannot_requeue_a_second_copy(
    redis_server: RedisServer, redis_client: redis.Redis, tmp_path: Path
) -> None:
    import prefetch_app

    worker = start_worker(redis_server, tmp_path, "prefetch_app.app", queues=("prefetch",),
                          include=(), env=FAST_LEASES).wait_ready()
    try:
        handle = prefetch_app.hold.push(60)
        os.kill(running_pid(redis_client, handle.id), signal.SIGKILL)
        assert handle.result(timeout=30) == 2
        assert executions(redis_client, handle.id) == 2
    finally:
        worker.stop()
    # With acks_late + reject_on_worker_lost, Celery would push the old copy back itself.
    assert f"dropping copy {handle.id}.1" not in worker.log()
    assert redis_client.llen("prefetch") == 0


def test_recovered_task_goes_ahead_of_the_backlog(
    basic_tasks: ModuleType, fast_worker: CeleryWorker, redis_client: redis.Redis
) -> None:
    handle = basic_tasks.hold.push(60)
    pid = running_pid(redis_client, handle.id)
    backlog = [basic_tasks.nap.push(0.3) for _ in range(10)]
    os.kill(pid, signal.SIGKILL)
    running_pid(redis_client, handle.id, attempt=2)
    still_queued = sum(
        redis_client.hget(KEYS.record(task.id), "state") == b"queued" for task in backlog
    )
    assert still_queued >= 5  # re-queued at the front: it did not wait behind the backlog
    assert handle.result(timeout=30)["attempt"] == 2
    for task in backlog:
        task.result(timeout=30)
