"""What the server says about its own work over a window: commands, main-thread CPU, AOF bytes.

One ``INFO cpu persistence commandstats`` at each end of a window (``CONFIG RESETSTAT`` just
before the first) gives, for everything the server did in between:

- the commands it ran (``commandstats`` calls since the reset, commands inside Lua scripts
  included as Redis counts them, the benchmark's own ``INFO``/``CONFIG RESETSTAT`` left out:
  `bench.commands.parse_commandstats`);
- the CPU time of its main thread (``used_cpu_sys_main_thread`` + ``used_cpu_user_main_thread``,
  Redis >= 6.2; else the whole process, ``used_cpu_sys`` + ``used_cpu_user``, which `Window`
  says);
- the bytes appended to its append-only file (``aof_current_size``), unless an AOF rewrite ran
  or was in progress at either end (``aof_rewrite_in_progress``, ``aof_rewrites``): then the
  size is not a count of appended bytes, and `Window` says so.

Pure parsing and arithmetic; `snapshot` and `reset` are the only calls to the server.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import redis

from bench.commands import Calls, parse_commandstats

#: ``INFO cpu`` fields of the main thread, and of the whole process (the fallback).
MAIN_THREAD_CPU = ("used_cpu_sys_main_thread", "used_cpu_user_main_thread")
PROCESS_CPU = ("used_cpu_sys", "used_cpu_user")
#: `Snapshot.cpu_source` values.
MAIN_THREAD, PROCESS = "main thread", "whole process"


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One reading: monotonic time, commands since the last reset, CPU seconds so far (of
    `cpu_source`), the AOF's size and rewrite counters (None with AOF off)."""

    at: float
    calls: Calls
    cpu_s: float
    cpu_source: str
    aof_size: int | None
    aof_rewrites: int | None
    aof_rewriting: bool


def parse_snapshot(info: Mapping[str, Any], at: float) -> Snapshot:
    """redis-py's ``INFO cpu persistence commandstats`` (one flat dict) at monotonic `at`."""
    fields = MAIN_THREAD_CPU if all(name in info for name in MAIN_THREAD_CPU) else PROCESS_CPU
    aof_on = int(info.get("aof_enabled", 0)) == 1
    rewrites = info.get("aof_rewrites")
    return Snapshot(
        at=at,
        calls=parse_commandstats({key: value for key, value in info.items()
                                  if key.startswith("cmdstat_")}),
        cpu_s=sum(float(info[name]) for name in fields),
        cpu_source=MAIN_THREAD if fields == MAIN_THREAD_CPU else PROCESS,
        aof_size=int(info["aof_current_size"]) if aof_on else None,
        aof_rewrites=None if rewrites is None or not aof_on else int(rewrites),
        aof_rewriting=bool(int(info.get("aof_rewrite_in_progress", 0))
                           or int(info.get("aof_rewrite_scheduled", 0))),
    )


def snapshot(client: redis.Redis) -> Snapshot:
    """`parse_snapshot` of the server `client` talks to, now."""
    info: dict[str, Any] = client.info("cpu", "persistence", "commandstats")
    return parse_snapshot(info, time.monotonic())


def reset(client: redis.Redis) -> Snapshot:
    """``CONFIG RESETSTAT`` (commandstats back to zero), then the window's first `snapshot`."""
    client.config_resetstat()
    return snapshot(client)


@dataclass(frozen=True, slots=True)
class Window:
    """What the server did between two snapshots (the first taken right after a reset)."""

    seconds: float
    calls: Calls
    cpu_s: float
    cpu_source: str
    #: Bytes appended to the AOF; None when AOF is off or a rewrite touched the window.
    aof_bytes: int | None
    #: Why `aof_bytes` is None, or what was checked ("no rewrite").
    aof_note: str


def window(first: Snapshot, last: Snapshot) -> Window:
    """The difference between `first` and `last` (commands: `last`'s, counted since the reset)."""
    if first.cpu_source != last.cpu_source:
        raise ValueError("snapshots of different CPU sources")
    if first.aof_size is None or last.aof_size is None:
        aof_bytes, note = None, "AOF off"
    elif first.aof_rewriting or last.aof_rewriting or first.aof_rewrites != last.aof_rewrites:
        aof_bytes, note = None, "an AOF rewrite ran or was pending during the window"
    else:
        aof_bytes, note = last.aof_size - first.aof_size, "no AOF rewrite during the window"
    return Window(seconds=last.at - first.at, calls=last.calls, cpu_s=last.cpu_s - first.cpu_s,
                  cpu_source=last.cpu_source, aof_bytes=aof_bytes, aof_note=note)


def net_per_task(run: float, run_s: float, idle: float, idle_s: float, tasks: int) -> float:
    """Per task, what a run counted (`run` over `run_s` seconds) less the idle rate (`idle`
    over `idle_s` seconds) over the run's duration."""
    if tasks < 1 or idle_s <= 0:
        raise ValueError("need tasks >= 1 and an idle window")
    return (run - idle / idle_s * run_s) / tasks
