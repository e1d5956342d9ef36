"""gevent and eventlet workers run relier tasks with the threads pool's guarantees.

Celery's gevent pool ends a body at its hard limit where the body yields; relier records the
dead letter from the request's timeout callback. A killed worker's tasks come back through the
resurrector as with any pool.
"""

from __future__ import annotations

import importlib.util
import subprocess
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import redis
from celery import chord

from relier import DeadLetterReason, TaskFailedError
from relier.testing import FAST_LEASES, CeleryWorker, RedisServer, stop_process, wait_until
from tests.conftest import start_worker
from tests.support import KEYS, executions, running_pid, start_resurrector

POOLS = ("gevent", "eventlet")


@pytest.fixture(params=POOLS)
def greenlet_worker(request: pytest.FixtureRequest, redis_server: RedisServer,
                    tmp_path: Path) -> Iterator[CeleryWorker]:
    if importlib.util.find_spec(request.param) is None:  # importing eventlet here would patch
        pytest.skip(f"{request.param} is not installed")  # this process's fork()
    worker = start_worker(redis_server, tmp_path / request.param, pool=request.param,
                          concurrency=8, env=FAST_LEASES).wait_ready()
    yield worker
    worker.kill()


def test_sync_and_async_bodies_results_and_canvas(
    basic_tasks: ModuleType, greenlet_worker: CeleryWorker, redis_client: redis.Redis,
) -> None:
    handles = [basic_tasks.add.push(i, i) for i in range(20)]
    assert [handle.result(timeout=30) for handle in handles] == [2 * i for i in range(20)]
    assert all(executions(redis_client, handle.id) == 1 for handle in handles)
    assert basic_tasks.echo_async.push("hi").result(timeout=30)["echo"] == "hi"
    header = [basic_tasks.add.s(i, 1) for i in range(3)]
    assert chord(header, basic_tasks.total.s()).apply_async().get(timeout=30) == 6
    with pytest.raises(TaskFailedError) as caught:
        basic_tasks.explode.push("no").result(timeout=30)
    assert caught.value.reason == DeadLetterReason.RETRIES_EXHAUSTED


@pytest.mark.parametrize("task_name", ["stuck_sleep", "hang_async"])
def test_hard_timeout_dead_letters_and_the_worker_keeps_serving(
    task_name: str, basic_tasks: ModuleType, greenlet_worker: CeleryWorker,
    redis_client: redis.Redis,
) -> None:
    handle = getattr(basic_tasks, task_name).push()
    with pytest.raises(TaskFailedError) as caught:
        handle.result(timeout=30)
    assert caught.value.reason == DeadLetterReason.HARD_TIMEOUT
    assert executions(redis_client, handle.id) == 1
    assert basic_tasks.add.push(1, 1).result(timeout=30) == 2


def test_a_killed_greenlet_worker_s_tasks_run_again_elsewhere(
    basic_tasks: ModuleType, greenlet_worker: CeleryWorker, redis_server: RedisServer,
    redis_client: redis.Redis, tmp_path: Path,
) -> None:
    handle = basic_tasks.hold.push(60)
    running_pid(redis_client, handle.id)
    resurrector: subprocess.Popen[bytes] = start_resurrector(redis_server.url, tmp_path / "r.log")
    greenlet_worker.kill()
    replacement = start_worker(redis_server, tmp_path / "b", env=FAST_LEASES).wait_ready()
    try:
        assert handle.result(timeout=60)["attempt"] == 2
    finally:
        replacement.kill()
        stop_process(resurrector)
    assert executions(redis_client, handle.id) == 2


def test_a_warm_shutdown_lets_the_running_task_finish(
    basic_tasks: ModuleType, greenlet_worker: CeleryWorker, redis_client: redis.Redis,
) -> None:
    handle = basic_tasks.nap.push(0.5)
    wait_until(lambda: redis_client.hget(KEYS.record(handle.id), "state") == b"running",
               timeout=30, message="the nap never started")
    greenlet_worker.stop()
    assert handle.result(timeout=30) is None
    assert "Traceback" not in greenlet_worker.log()
