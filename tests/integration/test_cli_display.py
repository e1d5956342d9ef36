"""`rl` never lets text from Redis act on the terminal: escape sequences, BEL and bidi
overrides written into records, dead letters, the worker registry and the event stream show
as U+FFFD, and a bad `rl push` argument is one line on stderr, never a traceback."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import pytest
from celery import Celery

from relier.binding import Relier
from relier.config import Settings
from relier.connection import Connections
from relier.display import MASK, REPLACEMENT
from relier.store import Store
from relier.testing import RedisServer

#: sets the terminal's title when printed raw
ATTACK = "\x1b]0;pwned\x07"
MARKUP = "[bold red]markup[/]"
BIDI = "\u202e"
HOSTILE_NAME = f"evil{ATTACK}{MARKUP}{BIDI}txt.exe"


@dataclass(frozen=True, slots=True)
class Hostile:
    """What `seed_hostile_state` wrote."""

    dead_letter_id: str
    task_id: str
    node: str
    process: str


def seed_hostile_state(server: RedisServer) -> Hostile:
    """Write what an attacker with access to Redis could: a raw dead letter (the worker's
    `dead_letter_raw` path, with the name and headers a forged message claims), a running
    task held by a registered worker, and lifecycle events, all carrying escape sequences."""
    settings = Settings.from_env({"RELIER_ENV": "test", "RELIER_REDIS_URL": server.url})
    store = Store(Connections(settings), settings)
    keys, client = store.keys, store.client
    entry = "x-hostile-1"
    store.dead_letter_raw(entry, reason="undecodable", error=f"boom {ATTACK}\x1b[2J {BIDI}",
                          raw=b"\x1b[31m", headers={"task": HOSTILE_NAME}, claimed_id=f"id{ATTACK}",
                          claimed_name=HOSTILE_NAME, queue=f"q{ATTACK}")
    traceback = f'Traceback (most recent call last):\n  File "{ATTACK}"\nValueError: \x1b[31mred{BIDI}'
    client.hset(keys.record(entry), "traceback", traceback)
    seconds, micros = client.time()
    now = int(seconds) * 1000 + int(micros) // 1000
    node, process = f"evil{ATTACK}@host/1", f"evil{ATTACK}@host/2"
    client.hset(keys.workers, node, json.dumps({
        "host": f"host{ATTACK}", "pid": 1, "queues": [f"q{ATTACK}{MARKUP}"], "pool": f"pool{BIDI}",
        "concurrency": 1}))
    client.zadd(keys.leases, {node: now, process: now})
    task_id = f"t-{ATTACK}-1"
    client.sadd(keys.held(process), task_id)
    client.hset(keys.record(task_id), mapping={
        "name": HOSTILE_NAME, "queue": f"q{ATTACK}", "state": "running", "attempt": 1, "fence": 1,
        "holder": process, "worker": node, "started": now, "updated": now,
        "error": f"err{ATTACK}", "traceback": traceback})
    client.rpush(keys.history(task_id), json.dumps({"event": "started", "worker": node}))
    client.xadd(keys.events, {"type": f"started{ATTACK}", "id": task_id, "task": HOSTILE_NAME,
                              "worker": node, "queue": f"q{BIDI}"})
    store.client.close()
    return Hostile(entry, task_id, node, process)


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A server of its own: no worker or resurrector of the session may act on the fakes."""
    server = RedisServer(Path(tmp_path_factory.mktemp("hostile-redis"))).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def hostile(hostile_server: RedisServer) -> Hostile:
    return seed_hostile_state(hostile_server)


def rl(server: RedisServer, *args: str) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "RELIER_REDIS_URL": server.url, "PYTHONIOENCODING": "utf-8",
           "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.run([sys.executable, "-m", "relier.cli", *args], capture_output=True,
                          timeout=60, check=False, env=env)


def inert(output: bytes) -> str:
    """`output` as text, after checking nothing in it acts on a terminal."""
    assert b"\x1b" not in output
    assert b"\x07" not in output
    text = output.decode("utf-8")
    assert BIDI not in text
    assert "\x9b" not in text
    return text


def shown(server: RedisServer, *args: str) -> str:
    result = rl(server, *args)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    inert(result.stderr)
    return inert(result.stdout)


def test_dlq_list_and_show_replace_control_characters(hostile: Hostile,
                                                      hostile_server: RedisServer) -> None:
    listing = shown(hostile_server, "dlq", "list")
    assert hostile.dead_letter_id in listing
    assert f"evil{REPLACEMENT}]0;pwned{REPLACEMENT}[bold red]" in listing
    detail = shown(hostile_server, "dlq", "show", hostile.dead_letter_id)
    assert f"boom {REPLACEMENT}]0;pwned{REPLACEMENT}{REPLACEMENT}[2J {REPLACEMENT}" in detail
    # the traceback keeps its lines; only the control characters go
    assert f'  File "{REPLACEMENT}]0;pwned{REPLACEMENT}"\nValueError: {REPLACEMENT}[31mred' in detail


def test_dlq_json_escapes_control_characters(hostile: Hostile, hostile_server: RedisServer) -> None:
    listing = shown(hostile_server, "dlq", "list", "--json")
    assert "\\u001b]0;pwned\\u0007" in listing
    entry = json.loads(listing)["entries"][0]
    assert entry["task"] == HOSTILE_NAME  # escaped for the terminal, exact for a program
    detail = shown(hostile_server, "dlq", "show", hostile.dead_letter_id, "--json")
    assert json.loads(detail)["name"] == HOSTILE_NAME
    exported = shown(hostile_server, "dlq", "export")
    assert json.loads(exported.splitlines()[0])["name"] == HOSTILE_NAME


def test_tasks_inflight_and_show_replace_control_characters(hostile: Hostile,
                                                            hostile_server: RedisServer) -> None:
    table = shown(hostile_server, "tasks", "inflight")
    assert f"t-{REPLACEMENT}]0;pwned{REPLACEMENT}-1" in table
    assert f"evil{REPLACEMENT}]0;pwned" in table
    assert "1 inflight" in table
    assert json.loads(shown(hostile_server, "tasks", "inflight", "--json"))[0]["task"] == HOSTILE_NAME
    detail = shown(hostile_server, "tasks", "show", hostile.task_id)
    assert f"err{REPLACEMENT}]0;pwned{REPLACEMENT}" in detail
    assert f'\n  File "{REPLACEMENT}]0;pwned{REPLACEMENT}"\n' in detail
    assert json.loads(shown(hostile_server, "tasks", "show", hostile.task_id, "--json"))["name"] == (
        HOSTILE_NAME)


def test_workers_replace_control_characters(hostile: Hostile, hostile_server: RedisServer) -> None:
    table = shown(hostile_server, "workers", "--all")  # its lease is not refreshed: dead soon
    assert f"evil{REPLACEMENT}]0;pwned{REPLACEMENT}@host/1" in table
    assert f"evil{REPLACEMENT}]0;pwned{REPLACEMENT}@host/2" in table
    assert f"pool{REPLACEMENT}" in table
    assert json.loads(shown(hostile_server, "workers", "--all", "--json"))[0]["node"] == hostile.node


def test_tail_replaces_control_characters(hostile: Hostile, hostile_server: RedisServer) -> None:
    with closing(hostile_server.client()) as client:
        count = str(client.xlen("rl:events"))
    lines = shown(hostile_server, "tail", "--since", "0", "--count", count).splitlines()
    assert len(lines) == int(count)
    assert any(line.split()[1] == "dead_lettered" and f"evil{REPLACEMENT}]0;pwned" in line
               for line in lines)
    assert any(f"started{REPLACEMENT}]0;pwned{REPLACEMENT}" in line for line in lines)
    events = [json.loads(line) for line in
              shown(hostile_server, "tail", "--since", "0", "--count", count, "--json").splitlines()]
    assert {event.get("task") for event in events} == {HOSTILE_NAME}


@pytest.mark.parametrize(("option", "value"), [
    ("--args", "[123456789012345678901234567890]"),
    ("--kwargs", '{"n": -123456789012345678901234567890}'),
    ("--args", "[" * 5_000 + "]" * 5_000),
    ("--args", "[2,"),
])
def test_push_with_a_bad_argument_is_one_line_and_exit_2(option: str, value: str,
                                                         hostile_server: RedisServer) -> None:
    result = rl(hostile_server, "push", "some.task", option, value)
    assert result.returncode == 2
    stderr = inert(result.stderr)
    assert "Traceback" not in stderr
    assert stderr.startswith("rl: error: ")
    assert len(stderr.strip().splitlines()) == 1
    assert result.stdout == b""
    with closing(hostile_server.client()) as client:
        assert client.llen("default") == 0  # nothing was queued


def test_push_with_a_hostile_task_name_is_refused_in_one_safe_line(
    hostile_server: RedisServer,
) -> None:
    result = rl(hostile_server, "push", HOSTILE_NAME)
    assert result.returncode == 2
    stderr = inert(result.stderr)
    assert stderr.startswith("rl: error: ")
    assert len(stderr.strip().splitlines()) == 1


def test_tasks_show_decodes_the_arguments_masks_secrets_and_keeps_raw_bytes_on_request(
    hostile_server: RedisServer,
) -> None:
    """`rl tasks show` decodes a task's arguments from its stored message, as `rl dlq show`
    and the console's detail view do, with the signature status; --raw adds the bytes."""
    settings = Settings.from_env({"RELIER_ENV": "test", "RELIER_REDIS_URL": hostile_server.url})
    relier = Relier(Celery("cli-tasks-show", set_as_current=False), settings=settings)
    handle = relier.push_by_name("billing.charge", ["o-1", 4200],
                                 {"currency": "EUR", "password": "hunter2", "note": f"x{ATTACK}"})
    detail = shown(hostile_server, "tasks", "show", handle.id)
    assert " signature: verified (key dev)" in detail
    assert "[0] 'o-1'" in detail
    assert "[1] 4200" in detail
    assert "currency = 'EUR'" in detail
    assert f"password = {MASK}" in detail
    assert "note = 'x\\x1b]0;pwned\\x07'" in detail  # the value as a literal: escapes visible
    assert "hunter2" not in detail
    assert "base64" not in detail
    document = json.loads(shown(hostile_server, "tasks", "show", handle.id, "--json"))
    assert document["message"]["verified"] is True
    assert document["message"]["args"] == ["o-1", 4200]
    assert document["message"]["kwargs"]["password"] == MASK
    assert "stored" not in document

    raw = shown(hostile_server, "tasks", "show", handle.id, "--raw")
    assert "[0] 'o-1'" in raw  # still decoded
    stored = line_of(raw, "packed (")
    size = int(stored.split("(", 1)[1].split(" ", 1)[0])
    assert len(base64.b64decode(stored.rsplit(": ", 1)[1])) == size
    document = json.loads(shown(hostile_server, "tasks", "show", handle.id, "--raw", "--json"))
    assert document["stored"]["packed"]["bytes"] == size


def line_of(text: str, start: str) -> str:
    """The first line of `text` that starts with `start`."""
    return next(line for line in text.splitlines() if line.startswith(start))
