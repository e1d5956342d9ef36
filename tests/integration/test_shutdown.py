"""SIGTERM to a worker: running tasks finish or are handed off, resuming from a checkpoint."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from types import ModuleType

import redis

from relier.testing import FAST_LEASES, RedisServer
from tests.conftest import start_worker
from tests.support import KEYS, events_of, executions, running_pid

DRAIN = {**FAST_LEASES, "RELIER_DRAIN_TIMEOUT": "1", "RELIER_HANDOFF_HOOK_TIMEOUT": "1"}


def test_sigterm_hands_off_running_tasks_which_resume_elsewhere(
    basic_tasks: ModuleType, redis_server: RedisServer, redis_client: redis.Redis,
    tmp_path: Path,
) -> None:
    for cycle in range(2):
        old = start_worker(redis_server, tmp_path / f"old{cycle}", env=DRAIN,
                           concurrency=2).wait_ready()
        handles = [basic_tasks.long_checkpointed.push(100) for _ in range(2)]
        for handle in handles:
            running_pid(redis_client, handle.id)
        replacement = start_worker(redis_server, tmp_path / f"new{cycle}", env=DRAIN).wait_ready()
        try:
            os.kill(old.pid, signal.SIGTERM)
            assert old.wait_exit(timeout=30) == 0
            results = [handle.result(timeout=60) for handle in handles]
        finally:
            old.kill()
            replacement.stop()
        for handle, result in zip(handles, results, strict=True):
            assert result["attempt"] == 2
            assert result["resumed_from"] > 0  # the checkpoint taken at handoff
            assert executions(redis_client, handle.id) == 2
            record = redis_client.hgetall(KEYS.record(handle.id))
            assert record[b"resurrections"] == b"0"
            types = [event[b"type"] for event in events_of(redis_client, handle.id)]
            assert b"handed_off" in types
            assert types.index(b"checkpointed") < types.index(b"handed_off")
            assert types.count(b"completed") == 1


def test_tasks_that_finish_within_the_drain_timeout_just_complete(
    basic_tasks: ModuleType, redis_server: RedisServer, redis_client: redis.Redis,
    tmp_path: Path,
) -> None:
    worker = start_worker(redis_server, tmp_path, env={**DRAIN, "RELIER_DRAIN_TIMEOUT": "10"},
                          concurrency=2).wait_ready()
    try:
        handle = basic_tasks.long_checkpointed.push(20)  # about one second of work
        running_pid(redis_client, handle.id)
        os.kill(worker.pid, signal.SIGTERM)
        assert worker.wait_exit(timeout=30) == 0
    finally:
        worker.kill()
    assert handle.result(timeout=5) == {"resumed_from": 0, "attempt": 1}
    assert executions(redis_client, handle.id) == 1
