"""Any bytes can arrive: garbage written into records, dead letters, history lists, the
worker registry, the SLO counters, the admission overrides and the event stream never stops
a reader. `rl` exits 0 and lists each entry with the bad field marked (``?``, ``undecodable``);
the library's read API returns rows instead of raising."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from celery import Celery

from relier import inspection
from relier.admission import live_limits
from relier.binding import Relier
from relier.config import Settings
from relier.display import REPLACEMENT
from relier.eventstream import EventStream
from relier.slo import prune, read_windows
from relier.store import Store
from relier.testing import RedisServer

#: what anyone who can reach Redis may write where a number belongs
GARBAGE = (b"\xff\x00garbage", b"NaN", b"1e999", b"9" * 100_000, b"\x1b[2J")
#: history list entries that are not JSON objects: not UTF-8, a list, a string, too deep
GARBAGE_HISTORY = (b"\xff\xfe not json", b"[1, 2, 3]", b'"text"', b"[" * 100_000)
#: a checkpoint and a result that are not msgpack (0xc1 is never used), or not whole
BAD_CHECKPOINT, BAD_RESULT = b"\xc1\xc1\xc1", b"\x92"


@dataclass(frozen=True, slots=True)
class Garbage:
    """What `seed_garbage` wrote: tasks held by a leased process, dead letters, workers."""

    task_ids: list[str]
    dead_letter_ids: list[str]
    nodes: list[str]


def seed_garbage(store: Store) -> Garbage:
    keys, client = store.keys, store.client
    seconds, micros = client.time()
    now = int(seconds) * 1000 + int(micros) // 1000
    process = "garbage@host/2"
    client.zadd(keys.leases, {process: now})
    task_ids, dead_letter_ids = [], []
    for index, value in enumerate(GARBAGE):
        task_id = f"t-garbage-{index}"
        client.sadd(keys.held(process), task_id)
        client.hset(keys.record(task_id), mapping={
            "name": "garbage.task", "queue": "default", "state": "running", "holder": process,
            "attempt": value, "fence": value, "started": value, "started_fence": value,
            "partial": BAD_CHECKPOINT, "result": BAD_RESULT})
        client.rpush(keys.history(task_id), *GARBAGE_HISTORY)
        task_ids.append(task_id)
        entry = f"d-garbage-{index}"
        client.zadd(keys.dead_letters, {entry: now})
        client.hset(keys.record(entry), mapping={
            "name": "garbage.task", "queue": "default", "state": "dead_lettered",
            "reason": "retries_exhausted", "error": "boom", "attempt": value, "fence": value,
            "releases": value, "partial": BAD_CHECKPOINT})
        client.rpush(keys.history(entry), *GARBAGE_HISTORY)
        dead_letter_ids.append(entry)
    nodes = ["garbage@host/1", "list@host/1", "numbers@host/1"]
    client.hset(keys.workers, mapping={
        nodes[0]: b"\xff\x00garbage", nodes[1]: b"[1, 2]",
        nodes[2]: json.dumps({"host": "host", "pid": "NaN", "concurrency": 1e300,
                              "queues": "default", "pool": "prefork"}).encode().replace(
                                  b"1e+300", b"1e999")})
    client.zadd(keys.leases, dict.fromkeys(nodes, now))
    minute = now // 60_000
    client.hset(keys.slo, mapping={f"garbage.task|m|{minute}|ok": b"\xff\x00garbage",
                                   f"garbage.task|m|{minute}|bad": b"2",
                                   b"\xff\x00garbage": b"1", "no|bucket|here": b"1"})
    client.hset(keys.admission_live, mapping={keys.admission_scope("queue", "billing") + "rate":
                                              GARBAGE[0]})
    client.xadd(keys.events, {b"\xff\x00": b"\xff\x00garbage", b"type": b"started",
                              b"id": b"t-garbage-0"})
    return Garbage(task_ids, dead_letter_ids, nodes)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A server of its own: no worker or resurrector of the session may act on the garbage."""
    server = RedisServer(Path(tmp_path_factory.mktemp("garbage-redis"))).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def relier(server: RedisServer) -> Relier:
    settings = Settings.from_env({"RELIER_ENV": "test", "RELIER_REDIS_URL": server.url})
    return Relier(Celery("garbage-records", set_as_current=False), settings=settings)


@pytest.fixture(scope="module")
def garbage(relier: Relier) -> Garbage:
    return seed_garbage(relier.store)


def rl(server: RedisServer, *args: str) -> str:
    """What `rl` printed, after checking it exited 0 and printed no escape sequence."""
    env = {**os.environ, "RELIER_REDIS_URL": server.url, "PYTHONIOENCODING": "utf-8",
           "PYTHONPATH": os.pathsep.join(sys.path)}
    result = subprocess.run([sys.executable, "-m", "relier.cli", *args], capture_output=True,
                            timeout=60, check=False, env=env)
    stderr = result.stderr.decode(errors="replace")
    assert result.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert b"\x1b" not in result.stdout
    return result.stdout.decode()


def test_inflight_lists_each_garbage_task_with_its_numbers_marked(
        garbage: Garbage, relier: Relier, server: RedisServer) -> None:
    rows = {row.id: row for row in inspection.inflight(relier.store)}
    assert sorted(rows) == garbage.task_ids
    assert all(row.attempt is None and row.fence is None and row.running_for is None
               for row in rows.values())
    assert inspection.inflight_by_id(relier.store, garbage.task_ids).keys() == rows.keys()
    table = rl(server, "tasks", "inflight")
    assert f"{len(garbage.task_ids)} inflight" in table
    for task_id in garbage.task_ids:
        line = next(line for line in table.splitlines() if line.startswith(task_id))
        assert line.split()[3:5] == ["?", "?"]  # attempt, fence
    listed = json.loads(rl(server, "tasks", "inflight", "--json"))
    assert {row["id"]: row["attempt"] for row in listed} == dict.fromkeys(garbage.task_ids)


def test_task_detail_marks_a_garbage_checkpoint_result_and_history(
        garbage: Garbage, relier: Relier, server: RedisServer) -> None:
    task_id = garbage.task_ids[0]
    detail = inspection.task_detail(relier.store, task_id)
    assert detail is not None
    assert detail["partial"]["bytes"] == len(BAD_CHECKPOINT)
    assert "undecodable" in detail["partial"]
    assert detail["result"]["bytes"] == len(BAD_RESULT)
    entries = detail["history"]
    assert entries[:len(GARBAGE_HISTORY)] == [{"event": "undecodable", "bytes": len(raw)}
                                              for raw in GARBAGE_HISTORY]
    size = len(GARBAGE[0])
    assert entries[-1] == {"event": "started", "attempt": f"undecodable ({size} bytes)",
                           "fence": f"undecodable ({size} bytes)",
                           "worker": "garbage@host/2", "ts": f"undecodable ({size} bytes)"}
    for garbage_id in garbage.task_ids:
        shown = rl(server, "tasks", "show", garbage_id)
        assert '"event": "undecodable"' in shown
        assert "'undecodable':" in shown  # the checkpoint and the result
    document = json.loads(rl(server, "tasks", "show", task_id, "--json"))
    assert document["history"][0] == {"event": "undecodable", "bytes": len(GARBAGE_HISTORY[0])}


def test_dead_letters_list_and_show_with_garbage_numbers_marked(
        garbage: Garbage, relier: Relier, server: RedisServer) -> None:
    entries = {entry.id: entry for entry in relier.dead_letters.list_entries(limit=100)}
    assert sorted(entries) == garbage.dead_letter_ids
    assert all(entry.attempts is None and entry.releases is None for entry in entries.values())
    listing = rl(server, "dlq", "list")
    assert all(entry in listing for entry in garbage.dead_letter_ids)
    assert json.loads(rl(server, "dlq", "list", "--json"))["entries"][0]["attempts"] is None
    for entry, value in zip(garbage.dead_letter_ids, GARBAGE, strict=True):
        shown = relier.dead_letters.show(entry)
        assert shown is not None
        assert shown["partial"]["bytes"] == len(BAD_CHECKPOINT)
        assert shown["history"][1] == {"event": "undecodable", "bytes": len(GARBAGE_HISTORY[1])}
        text = rl(server, "dlq", "show", entry)
        size = len(value.decode(errors="replace").encode())
        assert f"   attempt: ? (not a number: {size} bytes)" in text
        assert '"event": "undecodable"' in text


def test_workers_with_a_garbage_registration_are_listed(
        garbage: Garbage, relier: Relier, server: RedisServer) -> None:
    views = {view.node: view for view in inspection.workers(relier.store)}
    assert sorted(views) == sorted(garbage.nodes)
    assert views["garbage@host/1"].pool == "?"
    assert views["list@host/1"].pid is None
    assert (views["numbers@host/1"].pid, views["numbers@host/1"].concurrency) == (None, None)
    assert views["numbers@host/1"].queues == []
    table = rl(server, "workers", "--all")
    assert all(node in table for node in garbage.nodes)
    assert "garbage@host/1" in next(line for line in table.splitlines() if " ? " in line)
    assert len(json.loads(rl(server, "workers", "--all", "--json"))) == len(garbage.nodes)


def test_slo_skips_garbage_counters_and_says_how_many(
        garbage: Garbage, relier: Relier, server: RedisServer) -> None:
    counts = read_windows(relier.store, "garbage.task")["5m"]
    assert (counts.good, counts.bad, counts.unreadable) == (0, 2, 1)
    report = rl(server, "slo", "--task", "garbage.task")
    assert "(1 counters not numbers, not counted)" in report
    assert json.loads(rl(server, "slo", "--json"))[1]["windows"]["5m"]["unreadable"] == 1
    assert prune(relier.store) == 0  # the resurrector's pass leaves what it cannot read alone
    assert relier.store.client.hlen(relier.store.keys.slo) == 4


def test_admission_status_marks_a_garbage_override(
        garbage: Garbage, relier: Relier, server: RedisServer) -> None:
    (override,) = live_limits(relier.store)
    assert (override.name, override.rate, override.unreadable) == ("billing", None, ("rate",))
    assert "rate=? burst=None" in rl(server, "admission", "status")


def test_events_with_garbage_field_names_decode(
        garbage: Garbage, relier: Relier, server: RedisServer) -> None:
    (event,) = EventStream.of(relier.store).latest(10)
    assert event[f"{REPLACEMENT}\x00"] == f"{REPLACEMENT}\x00garbage"
    assert "t-garbage-0" in rl(server, "tail", "--since", "0", "--count", "1")
