"""Reservations per pool: prefork and threads take a message only when a slot is free (relier's
threads pool wakes Celery's event loop when a thread frees, so nothing waits reserved and no
fetch stalls); a worker killed with every slot busy loses none of the waiting tasks."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import redis

from relier.testing import FAST_LEASES, RedisServer, stop_process
from tests.conftest import start_worker
from tests.support import KEYS, executions, running_pid, start_resurrector


@pytest.fixture
def resurrector(redis_server: RedisServer, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    process = start_resurrector(redis_server.url, tmp_path / "resurrector.log", FAST_LEASES)
    yield process
    stop_process(process)


def _states(client: redis.Redis, task_ids: list[str]) -> list[str]:
    return [(client.hget(KEYS.record(task_id), "state") or b"").decode() for task_id in task_ids]


def test_a_threads_worker_takes_a_message_only_for_a_free_thread_and_its_death_loses_none(
    basic_tasks: ModuleType, redis_server: RedisServer, redis_client: redis.Redis,
    resurrector: subprocess.Popen[bytes], tmp_path: Path,
) -> None:
    worker = start_worker(redis_server, tmp_path / "a", pool="threads", concurrency=2,
                          env=FAST_LEASES).wait_ready()
    running = [basic_tasks.hold.push(60) for _ in range(2)]
    waiting = [basic_tasks.hold.push(0.1) for _ in range(4)]
    waiting_ids = [handle.id for handle in waiting]
    for handle in running:
        running_pid(redis_client, handle.id)
    # Both threads are busy: the waiting tasks are still in the queue's list, none taken. (A
    # worker reserving one per slot took two as soon as the bodies were accepted.)
    queue_list = redis_client.hget(KEYS.record(waiting_ids[0]), "list")
    assert queue_list is not None
    assert redis_client.llen(queue_list) == 4
    assert _states(redis_client, waiting_ids) == ["queued"] * 4
    os.kill(worker.pid, signal.SIGKILL)  # the whole worker: threads run in its process
    worker.wait_exit(timeout=30)
    replacement = start_worker(redis_server, tmp_path / "b", pool="threads", concurrency=2,
                               env=FAST_LEASES).wait_ready()
    try:
        attempts = [handle.result(timeout=60)["attempt"] for handle in running + waiting]
    finally:
        replacement.kill()
    assert attempts == [2, 2, 1, 1, 1, 1]  # the running ones ran again; waiting ones once
    assert [executions(redis_client, h.id) for h in running + waiting] == [2, 2, 1, 1, 1, 1]
