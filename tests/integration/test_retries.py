"""Retries with backoff before the dead letters, through real workers and a resurrector."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import redis

from relier import DeadLetterReason, TaskFailedError
from relier.testing import CeleryWorker, RedisServer, stop_process
from tests.support import KEYS, events_of, executions, start_resurrector


@pytest.fixture
def resurrector(redis_server: RedisServer, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    process = start_resurrector(redis_server.url, tmp_path / "resurrector.log")
    yield process
    stop_process(process)


def test_retries_then_succeeds(
    basic_tasks: ModuleType, default_worker: CeleryWorker,
    resurrector: subprocess.Popen[bytes], redis_client: redis.Redis,
) -> None:
    handle = basic_tasks.flaky.push(2)
    assert handle.result(timeout=60) == 3
    assert executions(redis_client, handle.id) == 3
    types = [event[b"type"] for event in events_of(redis_client, handle.id)]
    assert types.count(b"retried") == 2
    history = [entry["event"] for entry in basic_tasks.flaky.relier.store.history(handle.id)]
    assert history.count("started") == 3
    assert history.count("failed") == 2


def test_retries_exhausted_dead_letters_the_last_error(
    basic_tasks: ModuleType, default_worker: CeleryWorker,
    resurrector: subprocess.Popen[bytes], redis_client: redis.Redis,
) -> None:
    handle = basic_tasks.flaky.push(10)
    with pytest.raises(TaskFailedError) as caught:
        handle.result(timeout=60)
    assert caught.value.reason == DeadLetterReason.RETRIES_EXHAUSTED
    assert caught.value.message == "upstream refused attempt 4"
    assert executions(redis_client, handle.id) == 4  # the first run and 3 retries
    assert redis_client.zscore(KEYS.dead_letters, handle.id) is not None


def test_other_exceptions_are_not_retried(
    basic_tasks: ModuleType, default_worker: CeleryWorker, redis_client: redis.Redis
) -> None:
    handle = basic_tasks.not_retryable.push()
    with pytest.raises(TaskFailedError) as caught:
        handle.result(timeout=30)
    assert caught.value.exc_type == "builtins.ValueError"
    assert executions(redis_client, handle.id) == 1
