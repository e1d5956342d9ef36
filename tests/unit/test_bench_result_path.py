"""``python -m bench results``' pure parts: the client-side command count, the per-task figures,
the tables and the check that relier wrote nothing to the result backend.

Nothing here starts a server or a worker: redis-py writes to a fake socket.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import redis
from redis.connection import AbstractConnection

from bench import page
from bench.__main__ import REGISTRY
from bench.client_commands import OTHER, command_name, commands_in, counting
from bench.commands import Calls
from bench.result_path import (
    BASELINE,
    DELAY,
    GET,
    ResultPath,
    check_nothing_written,
    client_rows,
    figures_of,
    per_task_rows,
    pooled,
    ratio_rows,
    server_cpu_s,
)


class _Socket:
    """Takes what redis-py writes, one `sendall` per request."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []

    def sendall(self, data: bytes) -> None:
        self.writes.append(bytes(data))


def _connection() -> tuple[redis.Connection, _Socket]:
    connection = redis.Connection(host="127.0.0.1", port=1)
    sock = _Socket()
    connection._sock = sock  # type: ignore[assignment]  # written to, never read
    return connection, sock


def test_counting_commands_and_round_trips_by_phase() -> None:
    original = AbstractConnection.send_command
    connection, sock = _connection()
    with counting() as tally:
        tally.phase = DELAY
        connection.send_packed_command(connection.pack_commands(
            [("MULTI",), ("SETEX", "k", 60, "v"), ("PUBLISH", "k", "v"), ("EXEC",)]))
        tally.phase = GET
        connection.send_command("HMGET", "rec", "state")
        connection.send_command("HMGET", "rec", "state")
        tally.phase = OTHER
        connection.send_command("CLIENT SETNAME", "bench")
    connection.send_command("GET", "after")  # no longer counted
    assert tally.commands_by_phase() == {
        DELAY: {"exec": 1, "multi": 1, "publish": 1, "setex": 1},
        GET: {"hmget": 2}, OTHER: {"client|setname": 1}}
    assert dict(tally.round_trips) == {DELAY: 1, GET: 2, OTHER: 1}  # a pipeline is one
    assert len(sock.writes) == 5
    assert AbstractConnection.send_command is original  # restored


def test_command_names_and_sums() -> None:
    assert command_name(b"EVALSHA") == "evalsha"
    assert command_name("SCRIPT LOAD") == "script|load"
    sent = {DELAY: {"lpush": 2, "subscribe": 2}, GET: {"get": 2, "unsubscribe": 2},
            OTHER: {"ping": 1}}
    assert commands_in(sent, (GET,)) == 4
    assert commands_in(sent, (GET,), ("subscribe", "unsubscribe")) == 6
    assert server_cpu_s({"used_cpu_user": 1.25, "used_cpu_sys": "0.5",
                         "used_cpu_sys_children": 9.0}) == 1.75


def _path(arm: str, run: dict[str, tuple[int, int]], sent: dict[str, dict[str, int]], *,
          cpu_s: float, backend_keys: int = 0) -> ResultPath:
    return ResultPath(arm=arm, rounds=1, tasks=2, idle_s=2.0, run_s=0.5,
                      idle=Calls({"brpop": (2, 10)}), run=Calls(run), idle_cpu_s=0.002,
                      run_cpu_s=cpu_s, sent=sent,
                      round_trips={phase: sum(found.values()) for phase, found in sent.items()},
                      durations_ns=(2_000_000, 4_000_000), backend_keys=backend_keys,
                      cpu_us_by_round=(cpu_s * 1e6 / 2,))


def _paths() -> list[ResultPath]:
    vanilla = _path(BASELINE, {"lpush": (2, 4), "setex": (2, 6), "publish": (2, 6),
                               "subscribe": (2, 4), "get": (2, 2), "unsubscribe": (2, 2)},
                    {DELAY: {"lpush": 2, "subscribe": 2}, GET: {"get": 2, "unsubscribe": 2}},
                    cpu_s=0.0008, backend_keys=2)
    relier = _path("relier", {"evalsha": (4, 40), "hset": (8, 8), "hmget": (6, 6)},
                   {DELAY: {"evalsha": 2}, GET: {"hmget": 6}}, cpu_s=0.0012)
    return [vanilla, relier]


def test_per_task_figures() -> None:
    vanilla, relier = _paths()
    assert (vanilla.commands, vanilla.script_calls, vanilla.usec) == (6.0, 0.0, 12.0)
    assert (relier.commands, relier.script_calls, relier.usec) == (9.0, 2.0, 27.0)
    assert round(relier.cpu_us) == 600
    assert round(relier.net_cpu_us) == 600 - 250  # idle 1 ms/s over a 0.5 s run, 2 tasks
    assert (vanilla.reads, relier.reads) == (3.0, 3.0)  # SUBSCRIBE counted though in delay()
    assert (vanilla.client_round_trips, relier.client_round_trips) == (4.0, 4.0)


def test_tables_and_ratios() -> None:
    paths = _paths()
    rows = per_task_rows(paths)
    assert rows[1][:3] == ("relier", "9.00", "2.00")
    assert rows[0][-3:] == ("400", "3.00", "2")  # CPU by round, delay + get p50 ms, keys
    assert ratio_rows(paths)[1][:4] == ("relier", "1.50x", "—", "2.25x")  # EVALSHA: 0 baseline
    assert ratio_rows(paths[1:])[0][1] == "—"  # the baseline did not run
    client = client_rows(paths)
    assert client[0] == ("delay() evalsha", "0.00", "1.00")
    assert ("get() hmget", "0.00", "3.00") in client
    assert client[-2:] == [("delay() round trips", "2.00", "1.00"),
                           ("get() round trips", "2.00", "3.00")]


def test_rounds_pool_into_one_arm() -> None:
    vanilla = _paths()[0]
    second = _path(BASELINE, {"lpush": (2, 2), "ping": (1, 1)},
                   {DELAY: {"lpush": 2}, OTHER: {"ping": 1}}, cpu_s=0.0012, backend_keys=2)
    both = pooled([vanilla, second])
    assert (both.rounds, both.tasks, both.backend_keys) == (2, 4, 4)
    assert both.run.by_command["lpush"] == (4, 6)
    assert both.run.by_command["ping"] == (1, 1)
    assert both.sent[DELAY] == {"lpush": 4, "subscribe": 2}
    assert both.round_trips == {DELAY: 6, GET: 4, OTHER: 1}
    assert [round(cpu) for cpu in both.cpu_us_by_round] == [400, 600]
    assert round(both.cpu_us) == 500  # pooled: all CPU over all tasks
    assert both.latency.count == 4
    with pytest.raises(ValueError, match="one arm"):
        pooled(_paths())


def test_figures_put_vanilla_with_a_backend_in_the_vanilla_column() -> None:
    figures = figures_of(_paths(), "m", "r")
    assert [(f.relier, f.vanilla, f.vanilla_acks_late) for f in figures] == [
        (9.0, 6.0, None), (600.0, 400.0, None), (3.0, 3.0, None)]  # no relier+backend arm
    assert figures[-1].method == "r"


def test_relier_arms_must_leave_the_backend_empty() -> None:
    vanilla, relier = _paths()
    assert check_nothing_written([vanilla, relier]) == []  # vanilla's own results are expected
    leaky = _path("relier+backend", {}, {}, cpu_s=0.0, backend_keys=3)
    assert check_nothing_written([vanilla, leaky]) == [
        "relier+backend: 3 celery-task-meta-* keys after its rounds"]


def test_registered_and_rendered() -> None:
    assert "results" in [benchmark.name for benchmark in REGISTRY]
    payload: dict[str, Any] = json.loads(json.dumps({
        "benchmark": "results", "description": "result path",
        "figures": [f.to_json() for f in figures_of(_paths(), "m", "r")], "tables": []}))
    text = page.render({"results": payload}, order=["results"], planned={}, images={})
    assert "| `results` | result path: Redis commands per task" in text
    assert "| 9.00 | 6.00 | — | 1.50x | m |" in text
