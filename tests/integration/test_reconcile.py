"""Messages that leave their broker list without reaching a worker are found and re-queued."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import redis

from relier.phoenix import Resurrector
from relier.testing import FAST_LEASES, RedisServer, stop_process, wait_until
from tests.conftest import start_worker
from tests.support import KEYS, executions, reconciling_resurrector, running_pid, start_resurrector


def resurrector_for(basic_tasks: ModuleType, reconcile_after: float) -> Resurrector:
    return reconciling_resurrector(basic_tasks.add.relier, reconcile_after)


def test_message_lost_from_its_list_is_requeued_once(
    basic_tasks: ModuleType, redis_server: RedisServer, redis_client: redis.Redis, tmp_path: Path
) -> None:
    handle = basic_tasks.add.push_with((3, 4), queue="reconcile-lost")
    record = KEYS.record(handle.id)
    message = redis_client.lpop("reconcile-lost")  # what a consumer killed after BRPOP leaves
    assert message is not None
    resurrector = resurrector_for(basic_tasks, reconcile_after=0.2)
    wait_until(lambda: resurrector.run_pass().reconciled
               and redis_client.hget(record, "ticket") == b"2", timeout=10)
    assert redis_client.llen("reconcile-lost") == 1
    assert resurrector.run_pass().reconciled == 0  # present now: nothing more to do
    worker = start_worker(redis_server, tmp_path, queues=("reconcile-lost",)).wait_ready()
    try:
        assert handle.result(timeout=30) == 7
    finally:
        worker.stop()
    assert executions(redis_client, handle.id) == 1


def test_message_still_waiting_is_left_alone(
    basic_tasks: ModuleType, redis_client: redis.Redis
) -> None:
    handle = basic_tasks.add.push_with((1, 1), queue="reconcile-waiting")
    resurrector = resurrector_for(basic_tasks, reconcile_after=0.05)
    wait_until(lambda: redis_client.zscore(KEYS.queued, handle.id) is not None, timeout=5)
    checked_before = redis_client.zscore(KEYS.queued, handle.id)
    wait_until(lambda: (resurrector.run_pass(),
                        redis_client.zscore(KEYS.queued, handle.id) != checked_before)[1],
               timeout=10)
    assert redis_client.hget(KEYS.record(handle.id), "ticket") == b"1"
    assert redis_client.llen("reconcile-waiting") == 1
    redis_client.delete("reconcile-waiting")


@pytest.fixture
def resurrector_process(
    redis_server: RedisServer, tmp_path: Path
) -> Iterator[subprocess.Popen[bytes]]:
    process = start_resurrector(redis_server.url, tmp_path / "resurrector.log",
                                {"RELIER_RECONCILE_AFTER": "1"})
    yield process
    stop_process(process)


def test_consumer_killed_with_prefetched_tasks_loses_none(
    redis_server: RedisServer,
    redis_client: redis.Redis,
    resurrector_process: subprocess.Popen[bytes],
    tmp_path: Path,
) -> None:
    import prefetch_app

    worker = start_worker(redis_server, tmp_path / "a", "prefetch_app.app", queues=("prefetch",),
                          include=(), concurrency=1, env=FAST_LEASES).wait_ready()
    handles = [prefetch_app.hold.push(60)] + [prefetch_app.hold.push(0.1) for _ in range(4)]
    running_pid(redis_client, handles[0].id)
    wait_until(lambda: sum(redis_client.hget(KEYS.record(h.id), "state") == b"reserved"
                           for h in handles[1:]) >= 3, timeout=30,
               message="the consumer never prefetched")
    os.kill(worker.pid, signal.SIGKILL)  # the consumer (main) process only
    worker.wait_exit(timeout=30)
    replacement = start_worker(redis_server, tmp_path / "b", "prefetch_app.app",
                               queues=("prefetch",), include=(), env=FAST_LEASES).wait_ready()
    try:
        attempts = [handle.result(timeout=60) for handle in handles]
    finally:
        replacement.kill()
        worker.kill()
    assert attempts == [2, 1, 1, 1, 1]  # the running task ran again; reserved ones once
    stale_tags = [f"{handle.id}.1" for handle in handles[1:]]
    assert redis_client.hmget("unacked", stale_tags) == [None] * 4  # kombu will not restore them
    assert [executions(redis_client, h.id) for h in handles] == [2, 1, 1, 1, 1]


def test_reserved_tasks_come_back_after_the_consumer_reconnects(
    redis_server: RedisServer, redis_client: redis.Redis, tmp_path: Path
) -> None:
    import prefetch_app

    worker = start_worker(redis_server, tmp_path, "prefetch_app.app", queues=("prefetch",),
                          include=(), concurrency=1, env=FAST_LEASES).wait_ready()
    try:
        # 1 running + 2 reserved leaves the prefetch window (4) open, so the consumer sits in BRPOP.
        handles = [prefetch_app.hold.push(3)] + [prefetch_app.hold.push(0.1) for _ in range(2)]
        running_pid(redis_client, handles[0].id)
        wait_until(lambda: sum(redis_client.hget(KEYS.record(h.id), "state") == b"reserved"
                               for h in handles[1:]) == 2, timeout=30,
                   message="the consumer never prefetched")
        # Drop every connection but ours: Celery reconnects and forgets what it had reserved.
        redis_client.client_kill_filter(_type="normal", skipme=True)
        attempts = [handle.result(timeout=60) for handle in handles]
    finally:
        worker.kill()
    assert attempts == [1, 1, 1]
    assert [executions(redis_client, h.id) for h in handles] == [1] * 3
    assert "returned" in worker.log()
