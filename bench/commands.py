"""Redis commands per task lifecycle (push -> run -> result), relier vs vanilla, by command.

Per arm, on a fresh Redis-compatible server (loopback), with a ``celery worker``
(``bench.noop_arms``: prefork ``-c 2``) that has run a warm-up (scripts loaded, queues
declared):

1. idle: ``CONFIG RESETSTAT``, a quiet window, ``INFO commandstats``: the worker's background
   traffic per second (broker polling, lease refreshing);
2. lifecycle: ``CONFIG RESETSTAT``, N no-op tasks pushed by the benchmark process and run by the
   worker (completions read from the worker's log, so the wait sends the server nothing), then
   ``INFO commandstats``; calls of every command, divided by N. Commands run inside Lua scripts
   count as commands (the script's EVALSHA counts once more), as Redis counts them;
3. dispatch: the worker stopped, ``CONFIG RESETSTAT``, M pushes alone, ``INFO commandstats``.

The benchmark's own ``CONFIG RESETSTAT`` and ``INFO`` are left out of every count.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import redis

from bench import Benchmark
from bench.figures import Figure, by_arm, format_text, table
from bench.noop_arms import WORKERS, noop_arm, started
from bench.options import add_arm_option, add_number, add_output_options
from bench.result_files import machine_summary, now_utc, publish, server_label
from bench.servers import connected_server, describe_machine
from bench.worker_log import WorkerLog
from bench.workers import ARMS
from relier.testing import server_binary

NAME = "commands"
#: What the benchmark itself sends between a reset and a reading.
_OWN_COMMANDS = frozenset({"info", "config|resetstat"})


@dataclass(frozen=True, slots=True)
class Calls:
    """Command name -> (calls, usec) counted over one phase."""

    by_command: dict[str, tuple[int, int]]

    @property
    def calls(self) -> int:
        return sum(calls for calls, _ in self.by_command.values())

    @property
    def usec(self) -> int:
        return sum(usec for _, usec in self.by_command.values())

    def per(self, divisor: float) -> dict[str, float]:
        return {name: calls / divisor for name, (calls, _) in self.by_command.items()}


def parse_commandstats(raw: dict[str, Any]) -> Calls:
    """redis-py's ``INFO commandstats`` -> `Calls`, the benchmark's own commands left out."""
    found: dict[str, tuple[int, int]] = {}
    for key, stat in raw.items():
        name = key.removeprefix("cmdstat_")
        if name not in _OWN_COMMANDS and int(stat["calls"]) > 0:
            found[name] = (int(stat["calls"]), int(stat["usec"]))
    return Calls(dict(sorted(found.items())))


def reading(client: redis.Redis) -> Calls:
    return parse_commandstats(client.info("commandstats"))


@dataclass(frozen=True, slots=True)
class Lifecycle:
    """What one arm's three phases counted."""

    arm: str
    tasks: int
    pushes: int
    idle_s: float
    run_s: float
    idle: Calls
    run: Calls
    dispatch: Calls

    @property
    def per_task(self) -> float:
        return self.run.calls / self.tasks

    @property
    def background_per_s(self) -> float:
        return self.idle.calls / self.idle_s

    @property
    def net_per_task(self) -> float:
        """Per task, less the background rate over the run's duration."""
        return (self.run.calls - self.background_per_s * self.run_s) / self.tasks

    @property
    def per_push(self) -> float:
        return self.dispatch.calls / self.pushes


def measure(arm: str, directory: Path, binary: Path, *, tasks: int, pushes: int, warmup: int,
            idle: float, timeout: float) -> tuple[Lifecycle, dict[str, Any]]:
    with connected_server(directory / "server", binary) as (server, client):
        machine = describe_machine(client, binary)
        subject = noop_arm(arm, server.url)
        log = WorkerLog(directory / "worker.log")
        with started(subject.worker(log.path)):
            for _ in range(warmup):
                subject.push()
            log.wait_successes(warmup, timeout)
            time.sleep(0.5)
            client.config_resetstat()
            time.sleep(idle)
            idle_calls = reading(client)
            client.config_resetstat()
            began = time.monotonic()
            for _ in range(tasks):
                subject.push()
            log.wait_successes(warmup + tasks, timeout)
            run_s = time.monotonic() - began
            run_calls = reading(client)
        time.sleep(0.5)  # the server drops the dead worker's connections first
        client.config_resetstat()
        for _ in range(pushes):
            subject.push()
        dispatch_calls = reading(client)
    return Lifecycle(arm=arm, tasks=tasks, pushes=pushes, idle_s=idle, run_s=run_s,
                     idle=idle_calls, run=run_calls, dispatch=dispatch_calls), machine


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_number(parser, "--tasks", 1000, "no-op tasks pushed and run in the counted phase")
    add_number(parser, "--pushes", 200, "pushes counted with the worker stopped")
    add_number(parser, "--warmup", 20, "no-op tasks run before counting")
    add_number(parser, "--idle", 3.0, "quiet window for the background rate, s")
    add_arm_option(parser, ARMS)
    add_output_options(parser, NAME)


def command_rows(per_arm: Mapping[str, Mapping[str, float]]) -> list[tuple[str, ...]]:
    """One row per command (most calls first), one column per arm (in `per_arm`'s order), then
    the total; `per_arm` maps an arm to its calls per command (per task, per push...)."""
    names = sorted({name for values in per_arm.values() for name in values},
                   key=lambda name: (-max(v.get(name, 0.0) for v in per_arm.values()), name))
    rows = [(name, *(f"{values.get(name, 0.0):.2f}" for values in per_arm.values()))
            for name in names]
    rows.append(("total", *(f"{sum(values.values()):.2f}" for values in per_arm.values())))
    return rows


def breakdown_rows(lifecycles: list[Lifecycle], phase: str) -> list[tuple[str, ...]]:
    """One row per command (most calls first), one column per arm: calls per task or push."""
    return command_rows({lc.arm: getattr(lc, phase).per(lc.tasks if phase == "run" else lc.pushes)
                         for lc in lifecycles})


def run(args: argparse.Namespace) -> int:
    if min(args.tasks, args.pushes, args.warmup) < 1 or args.idle <= 0:
        raise SystemExit("--tasks, --pushes and --warmup must be >= 1, --idle > 0")
    arms: list[str] = args.arm or list(ARMS)
    began = now_utc()
    binary = server_binary(args.server)
    lifecycles: list[Lifecycle] = []
    machine: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="relier-bench-commands-") as tmp:
        for arm in arms:
            lifecycle, described = measure(
                arm, Path(tmp) / arm, binary, tasks=args.tasks, pushes=args.pushes,
                warmup=args.warmup, idle=args.idle, timeout=max(120.0, args.tasks * 0.05))
            lifecycles.append(lifecycle)
            machine = machine or described

    label = server_label(machine)
    method = (f"INFO commandstats calls after CONFIG RESETSTAT, {args.tasks:,} no-op tasks pushed "
              f"and run, divided by tasks; commands inside Lua scripts included; the "
              f"benchmark's own RESETSTAT/INFO excluded; fresh {label} per arm; {WORKERS}")
    push_method = (f"INFO commandstats calls after CONFIG RESETSTAT, the worker stopped, "
                   f"{args.pushes} pushes alone (relier push(), Celery send_task()), divided by "
                   f"pushes; commands inside Lua scripts included; fresh {label} per arm")
    by_name = {lc.arm: lc for lc in lifecycles}
    figures: list[Figure] = [
        by_arm("Redis commands per task lifecycle (push -> run -> result)", "", method,
               {arm: round(by_name[arm].per_task, 2) for arm in arms}),
        by_arm("Redis commands per push (dispatch alone)", "", push_method,
               {arm: round(by_name[arm].per_push, 2) for arm in arms}),
    ]
    # No server-time figure here: commandstats times a script's EVALSHA with the commands it
    # runs, then times those again under their own names. `redis-cost` measures the server's
    # main-thread CPU, counted once.
    columns = ("command", *arms)
    tables = [
        table("Redis commands per task lifecycle, by command", method, columns,
              breakdown_rows(lifecycles, "run")),
        table("Redis commands per push (worker stopped), by command", push_method, columns,
              breakdown_rows(lifecycles, "dispatch")),
        table("background traffic of an idle worker", (
            f"CONFIG RESETSTAT, {args.idle:g} s with nothing queued, INFO commandstats; net = "
            "lifecycle calls less this rate over the lifecycle phase's duration, per task"),
            ("arm", "commands/s", "commands idle", "lifecycle phase s", "net per task"),
            [(lc.arm, f"{lc.background_per_s:.2f}",
              ", ".join(f"{name} {calls}" for name, (calls, _) in lc.idle.by_command.items()),
              f"{lc.run_s:.2f}", f"{lc.net_per_task:.2f}") for lc in lifecycles]),
    ]
    publish(NAME, args.json_out, began,
            [f"commands: Redis commands per task lifecycle ({machine_summary(machine)})",
             format_text(figures, tables)],
            description="Redis commands per task lifecycle, relier vs vanilla Celery, by command",
            config={"tasks": args.tasks, "pushes": args.pushes, "warmup": args.warmup,
                    "idle_s": args.idle, "arms": arms},
            machine=machine, figures=figures, tables=tables,
            notes=["Redis counts the commands a Lua script runs as commands, besides the script's "
                   "EVALSHA: these figures are the server's work per task, not network round "
                   "trips. Vanilla Celery with its defaults keeps no result (no result backend); "
                   "relier always records the task's state, result and events."],
            lifecycles=[{**asdict(lc), "per_task": lc.per_task, "per_push": lc.per_push,
                         "net_per_task": lc.net_per_task,
                         "background_per_s": lc.background_per_s} for lc in lifecycles])
    return 0


BENCHMARK = Benchmark(
    name=NAME,
    help="count Redis commands per task lifecycle (INFO commandstats), by command: relier vs "
         "vanilla",
    add_arguments=add_arguments,
    run=run,
    scale={"tasks": 10_000},
)
