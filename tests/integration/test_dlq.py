"""Dead-letter operations through `rl dlq`, against real workers."""

from __future__ import annotations

import base64
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
from relier.display import MASK
from relier.dlq import DeadLetters
from relier.envelope import Envelope, seal
from relier.packing import element, element_text
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


@pytest.mark.parametrize("flag", ["--yes", "--confirm"])
def test_purge_asks_first(
    flag: str, basic_tasks: ModuleType, default_worker: CeleryWorker, redis_server: RedisServer,
    redis_client: redis.Redis,
) -> None:
    handle = basic_tasks.explode.push("purge me")
    with pytest.raises(TaskFailedError):
        handle.result(timeout=30)
    refused = rl(redis_server, "dlq", "purge", "--task", "tests.explode")
    assert refused.returncode == 2
    assert "needs --yes (or --confirm)" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    assert redis_client.zscore(KEYS.dead_letters, handle.id) is not None
    purged = rl(redis_server, "dlq", "purge", "--task", "tests.explode", flag)
    assert purged.returncode == 0
    assert redis_client.zscore(KEYS.dead_letters, handle.id) is None
    assert not redis_client.exists(KEYS.record(handle.id))


def test_show_decodes_the_arguments_safely_and_names_the_signature(
    basic_tasks: ModuleType, default_worker: CeleryWorker, redis_server: RedisServer
) -> None:
    attack = "evil \x1b]0;pwned\x07 \x1b[2J"
    handle = basic_tasks.explode.push(attack)
    secret = basic_tasks.explode.push("password=hunter2")
    for pushed in (handle, secret):
        with pytest.raises(TaskFailedError):
            pushed.result(timeout=30)
    text = rl(redis_server, "dlq", "show", handle.id)
    assert text.returncode == 0, text.stderr
    assert " signature: verified (key " in text.stdout
    assert "      args: 1\n            [0] 'evil \\x1b]0;pwned\\x07 \\x1b[2J'\n" in text.stdout
    assert "    kwargs: (none)" in text.stdout
    assert "\x1b" not in text.stdout + text.stderr
    assert "\x07" not in text.stdout + text.stderr
    assert "base64" not in text.stdout
    assert rl(redis_server, "dlq", "inspect", handle.id).stdout == text.stdout  # the alias
    shown = json.loads(rl(redis_server, "dlq", "show", handle.id, "--json").stdout)
    assert shown["message"]["args"] == [attack]
    assert (shown["message"]["signature"], shown["message"]["verified"]) == ("verified", True)
    assert shown["message"]["task"] == "tests.explode"
    assert set(shown["packed"]) == {"bytes"}
    raw = json.loads(rl(redis_server, "dlq", "inspect", handle.id, "--raw", "--json").stdout)
    assert raw["message"] == shown["message"]
    packed = base64.b64decode(raw["packed"]["base64"])
    assert len(packed) == raw["packed"]["bytes"] == shown["packed"]["bytes"]
    assert b'"body"' in element_text(element(packed, handle.id))
    raw_text = rl(redis_server, "dlq", "show", handle.id, "--raw").stdout
    assert f"packed ({len(packed)} bytes, base64): {raw['packed']['base64']}" in raw_text
    masked = rl(redis_server, "dlq", "show", secret.id)
    assert f"[0] {MASK}\n" in masked.stdout
    assert "hunter2" not in json.dumps(json.loads(
        rl(redis_server, "dlq", "show", secret.id, "--json").stdout)["message"])


def test_show_of_a_refused_message_says_what_it_claims_but_not_verified(
    basic_tasks: ModuleType, redis_server: RedisServer
) -> None:
    store = basic_tasks.add.relier.store
    claimed = Envelope(task="tests.add", id="forged-1", args=(1, 2), queue="default")
    cases = {"bad signature (key dev)": seal(claimed, "dev", b"f" * 32),
             "unknown key (key k9)": seal(claimed, "k9", b"s" * 32),
             "undecodable": b"\xc1 garbage"}
    for status, body in cases.items():
        entry = f"x-{uuid.uuid4().hex}"
        store.dead_letter_raw(entry, reason="bad_signature", error="refused", raw=body,
                              headers={}, claimed_id="forged-1", claimed_name="tests.add",
                              queue="default")
        result = rl(redis_server, "dlq", "show", entry)
        assert result.returncode == 0, result.stderr
        assert f" signature: {status}\n" in result.stdout
        if status == "undecodable":
            assert "args:" not in result.stdout
            continue
        assert "warning: NOT verified" in result.stdout
        assert "            [0] 1\n            [1] 2\n" in result.stdout
        shown = json.loads(rl(redis_server, "dlq", "show", entry, "--json").stdout)
        assert shown["message"]["verified"] is False
        assert shown["message"]["args"] == [1, 2]
        assert set(shown["raw"]) == {"bytes"}


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
