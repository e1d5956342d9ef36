"""``python -m bench redis-cost``'s pure parts: MONITOR lines into round trips, the server's
INFO readings into windows, the per-task arithmetic, the tables and figures.

Nothing here starts a server or a worker.
"""

from __future__ import annotations

from typing import Any

import pytest

from bench.__main__ import REGISTRY, build_parser
from bench.commands import Calls
from bench.figures import versus
from bench.monitor import LUA, TRANSACTION, MonitorLine, RoundTrips, between, count, parse_line
from bench.noop_arms import COST_ARMS, COST_BASELINES, FAIR_BASELINE, concurrency_of, workers_text
from bench.redis_cost import (
    MEASURES,
    Cost,
    by_arm,
    cpu_round_rows,
    figures_of,
    idle_rows,
    mean_per_command,
    median_per_task,
    per_task_rows,
    ratio_rows,
)
from bench.server_stats import MAIN_THREAD, PROCESS, Window, net_per_task, parse_snapshot, window

CLIENT, WORKER, MARKER = "127.0.0.1:50001", "127.0.0.1:50002", "127.0.0.1:50003"


def _line(source: str, command: str, echoed: str | None = None) -> MonitorLine:
    return MonitorLine(at=1.0, source=source, command=command, echoed=echoed)


def test_parse_monitor_lines() -> None:
    line = parse_line(b'+1796302874.464499 [0 127.0.0.1:38512] "SET" "a" "1"')
    assert line == MonitorLine(at=1796302874.464499, source="127.0.0.1:38512", command="set")
    script = parse_line('1796302874.464690 [0 lua] "set" "b" "1"')
    assert script is not None
    assert script.source == LUA
    echo = parse_line(b'1.5 [3 127.0.0.1:1] "ECHO" "relier-bench-abc"')
    assert echo is not None
    assert echo.echoed == "relier-bench-abc"
    quoted = parse_line(b'1.5 [0 unix:/tmp/r.sock] "LPUSH" "q" "{\\"a\\": \\"]\\"}"')
    assert quoted is not None
    assert (quoted.source, quoted.command) == ("unix:/tmp/r.sock", "lpush")
    assert quoted.echoed is None  # only an ECHO keeps its argument
    assert parse_line(b"+OK") is None
    assert parse_line(b"") is None


def test_round_trips_of_scripts_transactions_and_plain_commands() -> None:
    lines = [
        _line(CLIENT, "evalsha"), _line(LUA, "hset"), _line(LUA, "lpush"),  # one script call
        _line(WORKER, "multi"), _line(WORKER, "zadd"), _line(WORKER, "hset"),
        _line(WORKER, "exec"),  # one transaction
        _line(CLIENT, "lpush"), _line(WORKER, "brpop"),
        _line(MARKER, "echo", "x"),  # the benchmark's own: left out
        _line(CLIENT, "multi"), _line(CLIENT, "set"), _line(CLIENT, "discard"),
        _line(WORKER, "multi"), _line(WORKER, "get"),  # still open at the end: one
    ]
    found = count(lines, exclude=(MARKER,))
    assert found.by_request == {"brpop": 1, "evalsha": 1, "lpush": 1, TRANSACTION: 3}
    assert found.total == 6
    assert (found.client_commands, found.script_commands, found.commands) == (12, 2, 14)


def test_transactions_are_per_client() -> None:
    """Another client's commands between one client's MULTI and EXEC are their own trips."""
    lines = [_line(WORKER, "multi"), _line(CLIENT, "lpush"), _line(WORKER, "zadd"),
             _line(CLIENT, "get"), _line(WORKER, "exec")]
    assert count(lines).by_request == {"get": 1, "lpush": 1, TRANSACTION: 1}


def test_lines_between_markers() -> None:
    lines = [_line(CLIENT, "get"), _line(MARKER, "echo", "a"), _line(CLIENT, "set"),
             _line(LUA, "del"), _line(MARKER, "echo", "b"), _line(CLIENT, "incr")]
    assert [line.command for line in between(lines, MARKER, "a", "b")] == ["set", "del"]
    with pytest.raises(ValueError, match="markers"):
        between(lines, MARKER, "b", "a")
    with pytest.raises(ValueError, match="markers"):
        between(lines, CLIENT, "a", "b")  # markers count from the marker connection only


def _info(cpu_main: float | None, cpu: float, aof: int, *, rewrites: int = 0,
          rewriting: int = 0, calls: int = 10) -> dict[str, Any]:
    info: dict[str, Any] = {
        "used_cpu_sys": cpu / 2, "used_cpu_user": cpu / 2, "aof_enabled": 1,
        "aof_current_size": aof, "aof_rewrites": rewrites, "aof_rewrite_in_progress": rewriting,
        "aof_rewrite_scheduled": 0,
        "cmdstat_get": {"calls": calls, "usec": 5}, "cmdstat_info": {"calls": 3, "usec": 9},
        "cmdstat_config|resetstat": {"calls": 1, "usec": 1},
    }
    if cpu_main is not None:
        info |= {"used_cpu_sys_main_thread": cpu_main / 4, "used_cpu_user_main_thread": cpu_main * 3 / 4}
    return info


def test_snapshots_and_windows() -> None:
    first = parse_snapshot(_info(1.0, 1.5, 1000, calls=0), at=10.0)
    last = parse_snapshot(_info(1.25, 2.0, 4000, calls=40), at=12.0)
    assert first.cpu_source == MAIN_THREAD
    found = window(first, last)
    assert found.seconds == 2.0
    assert found.calls.by_command == {"get": (40, 5)}  # the benchmark's INFO/CONFIG left out
    assert found.cpu_s == pytest.approx(0.25)  # the main thread's, not the process's
    assert (found.aof_bytes, found.aof_note) == (3000, "no AOF rewrite during the window")


def test_windows_fall_back_and_refuse_rewritten_aof() -> None:
    first = parse_snapshot(_info(None, 1.5, 1000), at=0.0)
    assert first.cpu_source == PROCESS
    assert window(first, parse_snapshot(_info(None, 2.0, 900), at=1.0)).cpu_s == pytest.approx(0.5)
    rewritten = window(first, parse_snapshot(_info(None, 2.0, 900, rewrites=1), at=1.0))
    assert rewritten.aof_bytes is None
    assert "rewrite" in rewritten.aof_note
    rewriting = window(first, parse_snapshot(_info(None, 2.0, 5000, rewriting=1), at=1.0))
    assert rewriting.aof_bytes is None
    off = parse_snapshot({**_info(None, 1.0, 0), "aof_enabled": 0}, at=0.0)
    assert window(off, off).aof_note == "AOF off"
    with pytest.raises(ValueError, match="CPU sources"):
        window(first, parse_snapshot(_info(1.0, 2.0, 900), at=1.0))


def test_net_per_task() -> None:
    # 1,000 over 2 s, while idle ran 30 in 3 s (10/s): 20 were background; 980 over 100 tasks.
    assert net_per_task(1000, 2.0, 30, 3.0, 100) == pytest.approx(9.8)
    with pytest.raises(ValueError, match="idle window"):
        net_per_task(1, 1.0, 1, 0.0, 1)


def _window(seconds: float, calls: int, cpu_s: float, aof: int | None) -> Window:
    return Window(seconds=seconds, calls=Calls({"hset": (calls, calls)}), cpu_s=cpu_s,
                  cpu_source=MAIN_THREAD, aof_bytes=aof,
                  aof_note="AOF off" if aof is None else "no AOF rewrite during the window")


def _cost(arm: str, scale: int, *, aof: int | None = 1000) -> Cost:
    return Cost(arm=arm, tasks=100, idle=_window(2.0, 20, 0.002, None if aof is None else 100),
                run=_window(1.0, 1010 * scale, 0.101 * scale, None if aof is None else aof * scale + 50),
                idle_trips=RoundTrips({"brpop": 4}, client_commands=4), idle_trips_s=4.0,
                run_trips=RoundTrips({"evalsha": 300 * scale, "brpop": 101}, client_commands=401,
                                     script_commands=600),
                run_trips_s=1.0)


def test_cost_per_task() -> None:
    cost = _cost("relier", 1)
    assert cost.commands_raw == 10.1
    assert cost.commands == pytest.approx(10.0)  # less 10/s x 1 s
    assert cost.round_trips == pytest.approx(4.0)  # 401 less 1/s x 1 s
    assert cost.monitor_commands == pytest.approx(10.0)  # (401 + 600) less 1/s x 1 s
    assert cost.cpu_us == pytest.approx(1000.0)  # (0.101 - 0.001) s / 100
    assert cost.aof_bytes == pytest.approx(10.0)  # (1,050 - 50) / 100
    assert _cost("vanilla", 1, aof=None).aof_bytes is None
    assert set(cost.per_task()) == {key for key, *_ in MEASURES}


def test_tables_and_figures() -> None:
    costs = [_cost("relier", 2), _cost(FAIR_BASELINE, 1), _cost("vanilla", 1, aof=None)]
    rows = ratio_rows(costs)
    assert rows[0][0] == "Redis commands"
    assert rows[0][-2:] == ("2.01x", "2.01x")  # relier ÷ vanilla+backend, ÷ vanilla
    assert rows[-1][-2:] == ("2.00x", "—")  # AOF: vanilla has no figure
    assert [row[0] for row in per_task_rows(costs)] == ["relier", FAIR_BASELINE, "vanilla"]
    assert idle_rows(costs)[0][:4] == ("relier", "1", "10.0", "1.00")
    figures = figures_of(costs, {key: key for key, *_ in MEASURES})
    assert len(figures) == 2 * len(MEASURES)
    first, second = figures[:2]
    assert first.name == "redis-cost: Redis commands per task lifecycle (vanilla with a Redis result backend)"
    assert (first.relier, first.vanilla) == (20.1, 10.0)
    assert second.name.endswith("(vanilla defaults, no result backend)")
    assert figures[-1].vanilla is None  # vanilla's AOF not reported


def test_rounds_give_medians_and_each_rounds_ratio() -> None:
    # net of idle, relier's CPU is 1,000, 3,020 and 2,010 µs; vanilla+backend's 1,000 each round
    costs = [_cost("relier", 1), _cost("relier", 3), _cost("relier", 2),
             *(_cost(FAIR_BASELINE, 1) for _ in range(3))]
    assert median_per_task([c for c in costs if c.arm == "relier"])["cpu_us"] == pytest.approx(2010)
    assert by_arm(costs)["relier"] == costs[:3]
    assert [row[:2] for row in per_task_rows(costs)[:3]] == [("relier", "1"), ("relier", "2"),
                                                             ("relier", "3")]
    cpu = {f.name: f for f in figures_of(costs, {key: key for key, *_ in MEASURES})}
    fair = cpu["redis-cost: Redis main-thread CPU per task lifecycle (vanilla with a Redis result backend)"]
    assert (fair.relier, fair.vanilla) == (2010.0, 1000.0)
    rows = cpu_round_rows(costs)
    assert [row[0] for row in rows] == ["1", "2", "3", "median"]
    assert rows[1][1:4] == ("3,020", "1,000", "3.02x")  # relier, vanilla+backend, ratio
    assert rows[-1][3:] == ("2.01x", "—")  # no vanilla arm ran
    assert ratio_rows(costs)[2][-2:] == ("2.01x", "—")
    assert mean_per_command([{"a": 1.0}, {"a": 3.0, "b": 2.0}]) == {"a": 2.0, "b": 1.0}


def test_versus_skips_baselines_not_run() -> None:
    figures = versus("f", "", "m", {"relier": 2.0, "vanilla": 1.0}, COST_BASELINES)
    assert [(f.relier, f.vanilla) for f in figures] == [(2.0, 1.0)]
    assert figures[0].ratio() == (2.0, "vanilla")


def test_cost_arms_pools_and_registry() -> None:
    assert COST_ARMS == ("relier", "vanilla+backend", "vanilla")
    assert concurrency_of("solo") == 1
    assert concurrency_of("threads") == 2
    assert workers_text("solo") == "one solo -c 1 worker per arm, -l info, no-op task"
    names = [b.name for b in REGISTRY]
    assert {"redis-cost", "ceiling"} <= set(names)
    parser, _ = build_parser()
    args = parser.parse_args(["redis-cost", "--arm", "vanilla", "--tasks", "5"])
    assert (args.arm, args.tasks) == (["vanilla"], 5)
    assert parser.parse_args(["redis-cost"]).tasks == 1000
    assert parser.parse_args(["redis-cost"]).rounds == 3
