"""Reservations per pool: prefork takes a message only when a process is free; the other pools
reserve at most one message per slot (Celery's synchronous loop would stall with prefetch
disabled), and those reservations are recovered like any reserved task."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import redis

from relier.testing import FAST_LEASES, RedisServer, stop_process, wait_until
from tests.conftest import start_worker
from tests.support import KEYS, executions, running_pid, start_resurrector


@pytest.fixture
def resurrector(redis_server: RedisServer, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    process = start_resurrector(redis_server.url, tmp_path / "resurrector.log", FAST_LEASES)
    yield process
    stop_process(process)


def _states(client: redis.Redis, task_ids: list[str]) -> list[str]:
    return [(client.hget(KEYS.record(task_id), "state") or b"").decode() for task_id in task_ids]


def test_a_threads_worker_reserves_one_per_slot_and_its_death_loses_none(
    basic_tasks: ModuleType, redis_server: RedisServer, redis_client: redis.Redis,
    resurrector: subprocess.Popen[bytes], tmp_path: Path,
) -> None:
    worker = start_worker(redis_server, tmp_path / "a", pool="threads", concurrency=2,
                          env=FAST_LEASES).wait_ready()
    running = [basic_tasks.hold.push(60) for _ in range(2)]
    waiting = [basic_tasks.hold.push(0.1) for _ in range(4)]
    for handle in running:
        running_pid(redis_client, handle.id)
    waiting_ids = [handle.id for handle in waiting]
    wait_until(lambda: _states(redis_client, waiting_ids).count("reserved") == 2, timeout=30,
               message="the threads worker never reserved a message per slot")
    assert _states(redis_client, waiting_ids).count("queued") == 2  # bounded: one per slot
    os.kill(worker.pid, signal.SIGKILL)  # the whole worker: threads run in its process
    worker.wait_exit(timeout=30)
    replacement = start_worker(redis_server, tmp_path / "b", pool="threads", concurrency=2,
                               env=FAST_LEASES).wait_ready()
    try:
        attempts = [handle.result(timeout=60)["attempt"] for handle in running + waiting]
    finally:
        replacement.kill()
    assert attempts == [2, 2, 1, 1, 1, 1]  # the running ones ran again; reserved ones once
    assert [executions(redis_client, h.id) for h in running + waiting] == [2, 2, 1, 1, 1, 1]

