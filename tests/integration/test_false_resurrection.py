"""Things that look like death but are not, and resurrectors racing or dying.

Nothing may be resurrected that still runs, and nothing may run twice to completion.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import redis

from relier.testing import FAST_LEASES, CeleryWorker, RedisServer, stop_process, wait_until
from tests.conftest import start_worker
from tests.support import busy_worker, executions, resurrection_events, running_pid, start_resurrector


@pytest.fixture
def worker_and_resurrector(
    redis_server: RedisServer, tmp_path: Path
) -> Iterator[CeleryWorker]:
    worker = start_worker(redis_server, tmp_path, env=FAST_LEASES).wait_ready()
    resurrector = start_resurrector(redis_server.url, tmp_path / "resurrector.log",
                                    {"RELIER_RECONCILE_AFTER": "1"})
    yield worker
    stop_process(resurrector)
    worker.kill()


def test_redis_pause_shorter_than_the_lease_resurrects_nothing(
    basic_tasks: ModuleType,
    redis_server: RedisServer,
    worker_and_resurrector: CeleryWorker,
    redis_client: redis.Redis,
) -> None:
    handle = basic_tasks.hold.push(4)
    running_pid(redis_client, handle.id)
    redis_server.pause()
    try:
        time.sleep(1.7)  # the fault itself: Redis frozen for TTL - 0.3 s, not a synchronisation
    finally:
        redis_server.resume()
    assert handle.result(timeout=30)["attempt"] == 1
    assert executions(redis_client, handle.id) == 1
    assert resurrection_events(redis_client, handle.id) == []


def test_redis_restart_with_aof_loses_nothing_and_resurrects_nothing_running(
    basic_tasks: ModuleType,
    redis_server: RedisServer,
    worker_and_resurrector: CeleryWorker,
    redis_client: redis.Redis,
) -> None:
    running = basic_tasks.hold.push(6)
    running_pid(redis_client, running.id)
    queued = [basic_tasks.add.push(i, i) for i in range(5)]
    redis_server.stop()
    downtime_started = time.monotonic()
    redis_server.start()
    assert time.monotonic() - downtime_started < 15
    assert running.result(timeout=60)["attempt"] == 1
    # A message kombu popped as the connection dropped is found by reconciliation.
    assert [handle.result(timeout=60) for handle in queued] == [2 * i for i in range(5)]
    assert executions(redis_client, running.id) == 1
    assert [executions(redis_client, handle.id) for handle in queued] == [1] * 5
    assert resurrection_events(redis_client, running.id) == []


def test_two_resurrectors_requeue_each_task_once(
    basic_tasks: ModuleType, redis_server: RedisServer, redis_client: redis.Redis, tmp_path: Path
) -> None:
    doomed, handles = busy_worker(basic_tasks, redis_server, redis_client, tmp_path / "doomed", 4)
    resurrectors = [
        start_resurrector(redis_server.url, tmp_path / f"r{n}.log", {"RELIER_REAP_BATCH": "1"})
        for n in range(2)
    ]
    doomed.kill()
    replacement = start_worker(redis_server, tmp_path / "b", env=FAST_LEASES).wait_ready()
    try:
        results = [handle.result(timeout=60) for handle in handles]
    finally:
        replacement.kill()
        for process in resurrectors:
            stop_process(process)
    assert [result["attempt"] for result in results] == [2] * 4
    assert [executions(redis_client, handle.id) for handle in handles] == [2] * 4
    assert [resurrection_events(redis_client, h.id) for h in handles] == [[b"resurrected"]] * 4


def test_resurrector_killed_mid_batch_loses_and_duplicates_nothing(
    basic_tasks: ModuleType, redis_server: RedisServer, redis_client: redis.Redis, tmp_path: Path
) -> None:
    doomed, handles = busy_worker(basic_tasks, redis_server, redis_client, tmp_path / "doomed", 4)
    doomed.kill()
    first = start_resurrector(redis_server.url, tmp_path / "r1.log", {"RELIER_REAP_BATCH": "1"})
    wait_until(lambda: any(resurrection_events(redis_client, h.id) for h in handles), timeout=30,
               interval=0.005)
    first.kill()
    first.wait(10)
    second = start_resurrector(redis_server.url, tmp_path / "r2.log")
    replacement = start_worker(redis_server, tmp_path / "b", env=FAST_LEASES).wait_ready()
    try:
        results = [handle.result(timeout=60) for handle in handles]
    finally:
        replacement.kill()
        stop_process(second)
    assert [result["attempt"] for result in results] == [2] * 4
    assert [executions(redis_client, handle.id) for handle in handles] == [2] * 4
