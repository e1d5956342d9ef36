"""Dead-letter operations through `rl dlq`, against real workers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from types import ModuleType

import pytest
import redis

from relier import TaskFailedError, TaskHandle
from relier.connection import Connections
from relier.dlq import DeadLetters
from relier.store import Store
from relier.testing import CeleryWorker, RedisServer, wait_until
from tests.support import KEYS, executions, raw_dead_letter, settings_for


def rl(server: RedisServer, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "relier.cli", *args], capture_output=True, text=True,
        timeout=120, check=False, input=stdin,
        env={**os.environ, "RELIER_REDIS_URL": server.url},
    )


def dead_letter(basic_tasks: ModuleType, key: str) -> TaskHandle:
    handle = basic_tasks.fail_until_fixed.push(key)
    with pytest.raises(TaskFailedError):
        handle.result(timeout=30)
    return handle


def test_release_runs_the_task_and_the_entry_is_gone(
    basic_tasks: ModuleType, default_worker: CeleryWorker, redis_server: RedisServer,
    redis_client: redis.Redis,
) -> None:
    key = uuid.uuid4().hex
    handle = dead_letter(basic_tasks, key)
    redis_client.set(f"test:fixed:{key}", 1)
    result = rl(redis_server, "dlq", "release", handle.id)
    assert result.returncode == 0, result.stderr
    assert handle.result(timeout=30) == f"fixed {key}"
    assert executions(redis_client, handle.id) == 2
    assert redis_client.zscore(KEYS.dead_letters, handle.id) is None
    history = [entry["event"] for entry in basic_tasks.add.relier.store.history(handle.id)]
    assert history[-3:] == ["released", "started", "completed"]
    again = rl(redis_server, "dlq", "release", handle.id)
    assert again.returncode == 1
    assert again.stderr.strip() == f"rl: error: {handle.id} not released: missing"


def test_list_show_and_export(
    basic_tasks: ModuleType, default_worker: CeleryWorker, redis_server: RedisServer
) -> None:
    handle = dead_letter(basic_tasks, uuid.uuid4().hex)
    listed = json.loads(rl(redis_server, "dlq", "list", "--task", "tests.fail_until_fixed",
                           "--newer-than", "10m", "--json").stdout)
    ids = [entry["id"] for entry in listed["entries"]]
    assert handle.id in ids
    entry = listed["entries"][ids.index(handle.id)]
    assert entry["reason"] == "retries_exhausted"
    assert entry["releasable"] is True
    assert "not fixed yet" in entry["error"]
    assert rl(redis_server, "dlq", "list", "--older-than", "1d", "--task",
              "tests.fail_until_fixed", "--json").stdout.count(handle.id) == 0
    shown = json.loads(rl(redis_server, "dlq", "show", handle.id, "--json").stdout)
    assert "RuntimeError" in shown["traceback"]
    assert [item["event"] for item in shown["history"]] == ["started", "failed"]
    exported = [json.loads(line) for line in
                rl(redis_server, "dlq", "export", "--task", "tests.fail_until_fixed").stdout.splitlines()]
    assert handle.id in {item["id"] for item in exported}
    assert rl(redis_server, "dlq", "show", "no-such-id").returncode == 1


def test_retry_all_with_filters_and_dry_run(
    basic_tasks: ModuleType, default_worker: CeleryWorker, redis_server: RedisServer,
    redis_client: redis.Redis,
) -> None:
    key = uuid.uuid4().hex
    handles = [dead_letter(basic_tasks, key) for _ in range(3)]
    other = basic_tasks.explode.push("stays dead")
    with pytest.raises(TaskFailedError):
        other.result(timeout=30)
    dry = rl(redis_server, "dlq", "retry-all", "--task", "tests.fail_until_fixed", "--dry-run")
    assert dry.returncode == 0
    assert all(redis_client.zscore(KEYS.dead_letters, h.id) is not None for h in handles)
    redis_client.set(f"test:fixed:{key}", 1)
    done = rl(redis_server, "dlq", "retry-all", "--task", "tests.fail_until_fixed", "--rate", "20")
    assert done.returncode == 0, done.stderr
    assert [h.result(timeout=30) for h in handles] == [f"fixed {key}"] * 3
    assert redis_client.zscore(KEYS.dead_letters, other.id) is not None


def test_purge_asks_first(
    basic_tasks: ModuleType, default_worker: CeleryWorker, redis_server: RedisServer,
    redis_client: redis.Redis,
) -> None:
    handle = basic_tasks.explode.push("purge me")
    with pytest.raises(TaskFailedError):
        handle.result(timeout=30)
    refused = rl(redis_server, "dlq", "purge", "--task", "tests.explode")
    assert refused.returncode == 2
    assert "needs --yes" in refused.stderr
    assert redis_client.zscore(KEYS.dead_letters, handle.id) is not None
    purged = rl(redis_server, "dlq", "purge", "--task", "tests.explode", "--yes")
    assert purged.returncode == 0
    assert redis_client.zscore(KEYS.dead_letters, handle.id) is None
    assert not redis_client.exists(KEYS.record(handle.id))


def test_bad_messages_cannot_be_released(
    default_worker: CeleryWorker, redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    from tests.integration.test_failures import _push_raw

    task_id, _ = _push_raw(redis_client, b"\xc1 garbage")
    entry = wait_until(lambda: raw_dead_letter(redis_client, task_id), timeout=30)
    result = rl(redis_server, "dlq", "release", entry)
    assert result.returncode == 1
    assert "unreleasable" in result.stderr


def test_retention_trims_by_age_and_count(tmp_path: Path) -> None:
    server = RedisServer(tmp_path).start()
    try:
        settings = settings_for(server.url)
        store = Store(Connections(settings), settings)
        for n in range(5):
            store.dead_letter_raw(f"x-{n}", reason="undecodable", error="e", raw=b"r",
                                  headers={}, claimed_id="", claimed_name="", queue="q")
        dead = DeadLetters(store, "q")
        assert dead.enforce_retention(max_entries=3, max_age=3600) == 2
        assert dead.count() == 3
        assert dead.enforce_retention(max_entries=10, max_age=0) == 3
        assert dead.count() == 0
        purged = [fields for _, fields in store.client.xrange(store.keys.events)
                  if fields[b"type"] == b"dlq_purged"]
        assert [fields[b"count"] for fields in purged] == [b"2", b"3"]
    finally:
        server.stop()
