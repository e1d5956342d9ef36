"""What one task lifecycle costs Redis: commands, client round trips, main-thread CPU, AOF bytes.

Three arms (`bench.noop_arms.COST_ARMS`), each on a fresh Redis-compatible server (loopback,
``appendonly yes``, ``appendfsync everysec``) with its ``celery worker`` (prefork ``-c 2``) that
has run a warm-up: ``relier`` (relier's app, ``push()``), ``vanilla+backend`` (vanilla Celery
with a Redis result backend on the same server, ``delay()``: the worker stores each result;
the fair comparison) and ``vanilla`` (Celery's defaults, ``send_task()``, no result kept).
A lifecycle is: the benchmark process pushes, the worker runs the no-op body, the outcome is
stored where the arm keeps it. Completions are read from the worker's log, so waiting for them
sends the server nothing. Per arm, two passes on the same server and worker:

1. server counters, no ``MONITOR`` (so that it costs the server nothing): ``CONFIG RESETSTAT``
   and an idle window, then ``CONFIG RESETSTAT`` and N tasks pushed and run; at each end of a
   window one ``INFO cpu persistence commandstats`` (`bench.server_stats`): commands,
   main-thread CPU and AOF bytes;
2. round trips: ``MONITOR`` on a dedicated connection (`bench.monitor`), an idle window, then N
   more tasks, each window between two ``ECHO`` markers.

Every per-task figure is the run's count less the idle worker's rate (same pass) over the run's
duration, divided by N. Before each idle window the last task sent is read back until its
outcome is stored (the warm-up's tail must not fall into the window).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import redis

from bench import Benchmark
from bench.commands import command_rows
from bench.figures import Cell, Figure, Table, format_number, format_text, table, versus
from bench.monitor import Monitoring, RoundTrips
from bench.noop_arms import COST_ARMS, COST_BASELINES, FAIR_BASELINE, WORKERS, NoopArm, cost_arm, started
from bench.options import add_number, add_output_options
from bench.result_files import machine_summary, now_utc, publish, server_label
from bench.result_path import ratio_text
from bench.server_stats import MAIN_THREAD, Window, net_per_task, reset, snapshot, window
from bench.servers import connected_server, describe_machine
from bench.worker_log import WorkerLog
from relier.testing import LOOPBACK, server_binary, wait_until

NAME = "redis-cost"


@dataclass(frozen=True, slots=True)
class Cost:
    """One arm's two passes: the server's windows (idle, run) and MONITOR's (idle, run)."""

    arm: str
    tasks: int
    idle: Window
    run: Window
    idle_trips: RoundTrips
    idle_trips_s: float
    run_trips: RoundTrips
    run_trips_s: float

    def _net(self, run: float, idle: float) -> float:
        return net_per_task(run, self.run.seconds, idle, self.idle.seconds, self.tasks)

    @property
    def commands(self) -> float:
        return self._net(self.run.calls.calls, self.idle.calls.calls)

    @property
    def commands_raw(self) -> float:
        return self.run.calls.calls / self.tasks

    @property
    def round_trips(self) -> float:
        return net_per_task(self.run_trips.total, self.run_trips_s, self.idle_trips.total,
                            self.idle_trips_s, self.tasks)

    @property
    def monitor_commands(self) -> float:
        """Commands MONITOR showed per task (clients' and scripts'), net of idle: beside
        commandstats' count, a check (MONITOR leaves out admin commands)."""
        return net_per_task(self.run_trips.commands, self.run_trips_s,
                            self.idle_trips.commands, self.idle_trips_s, self.tasks)

    @property
    def cpu_us(self) -> float:
        return self._net(self.run.cpu_s, self.idle.cpu_s) * 1e6

    @property
    def cpu_us_raw(self) -> float:
        return self.run.cpu_s * 1e6 / self.tasks

    @property
    def aof_bytes(self) -> float | None:
        if self.run.aof_bytes is None or self.idle.aof_bytes is None:
            return None
        return self._net(self.run.aof_bytes, self.idle.aof_bytes)

    def per_task(self) -> dict[str, float | None]:
        return {key: getattr(self, key) for key, *_ in MEASURES}


#: The per-task figures: (`Cost` property, column / figure words, unit).
MEASURES = (("commands", "Redis commands", ""),
            ("round_trips", "client round trips", ""),
            ("cpu_us", "Redis main-thread CPU", "µs"),
            ("aof_bytes", "AOF bytes", "B"))


def send(subject: NoopArm, tasks: int) -> object:
    """Push `tasks` no-op tasks; returns what the last push returned."""
    last: object = None
    for _ in range(tasks):
        last = subject.push()
    return last


def settle(subject: NoopArm, last: object, timeout: float) -> None:
    """Wait until the outcome of `last` (a push's return) is stored."""
    wait_until(lambda: subject.stored(last), timeout=timeout, interval=0.01,
               message=f"{subject.arm}: the last task's outcome not stored")


def lifecycles(subject: NoopArm, log: WorkerLog, done: int, tasks: int,
               timeout: float) -> tuple[object, float]:
    """Push `tasks` and wait for their success lines (`done` before them): (last push's return,
    seconds from the first push to the last success seen)."""
    began = time.monotonic()
    last = send(subject, tasks)
    log.wait_successes(done + tasks, timeout)
    return last, time.monotonic() - began


def server_pass(client: redis.Redis, idle: float,
                run: Callable[[], object]) -> tuple[Window, Window, object]:
    """Pass 1: an idle window, then `run`'s, each from a ``CONFIG RESETSTAT``."""
    first = reset(client)
    time.sleep(idle)  # the idle window itself: what the worker sends unprompted
    idle_window = window(first, snapshot(client))
    first = reset(client)
    last = run()
    return idle_window, window(first, snapshot(client)), last


def monitor_pass(port: int, idle: float,
                 run: Callable[[], object]) -> tuple[RoundTrips, float, RoundTrips, float]:
    """Pass 2: round trips of an idle window, then of `run`, between MONITOR markers."""
    with Monitoring(LOOPBACK, port) as monitor:
        start, began = monitor.mark(), time.monotonic()
        time.sleep(idle)  # the idle window itself
        end, idle_s = monitor.mark(), time.monotonic() - began
        idle_trips = monitor.window(start, end)
        start, began = monitor.mark(), time.monotonic()
        run()
        end, run_s = monitor.mark(), time.monotonic() - began
        return idle_trips, idle_s, monitor.window(start, end), run_s


def measure(arm: str, directory: Path, binary: Path, *, tasks: int, warmup: int, idle: float,
            timeout: float) -> tuple[Cost, dict[str, Any]]:
    with connected_server(directory / "server", binary) as (server, client):
        machine = describe_machine(client, binary)
        subject = cost_arm(arm, server.url)
        log = WorkerLog(directory / "worker.log")
        with started(subject.worker(log.path)):
            last = send(subject, warmup)
            log.wait_successes(warmup, timeout)
            settle(subject, last, timeout)
            idle_window, run_window, last = server_pass(
                client, idle, lambda: lifecycles(subject, log, warmup, tasks, timeout)[0])
            settle(subject, last, timeout)
            idle_trips, idle_s, run_trips, run_s = monitor_pass(
                server.port, idle, lambda: lifecycles(subject, log, warmup + tasks, tasks,
                                                      timeout))
    return Cost(arm=arm, tasks=tasks, idle=idle_window, run=run_window, idle_trips=idle_trips,
                idle_trips_s=idle_s, run_trips=run_trips, run_trips_s=run_s), machine


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_number(parser, "--tasks", 1000, "no-op tasks pushed and run in each pass, per arm")
    add_number(parser, "--warmup", 20, "no-op tasks run before counting")
    add_number(parser, "--idle", 3.0, "quiet window for the background rate, s")
    parser.add_argument("--arm", choices=COST_ARMS, action="append", default=None,
                        help="run only this arm (repeatable; default: all)")
    add_output_options(parser, NAME)


def cell(value: float | None) -> str:
    return "—" if value is None else format_number(value)


def per_task_rows(costs: Sequence[Cost]) -> list[tuple[str, ...]]:
    """One row per arm: every figure per task (net of idle, and raw where it differs)."""
    return [(c.arm, cell(c.commands), cell(c.commands_raw), cell(c.round_trips),
             cell(c.monitor_commands), cell(c.cpu_us), cell(c.cpu_us_raw), cell(c.aof_bytes),
             c.run.aof_note, f"{c.run.seconds:.2f}", f"{c.run_trips_s:.2f}") for c in costs]


def ratio_rows(costs: Sequence[Cost]) -> list[tuple[str, ...]]:
    """One row per figure: each arm's value, then relier's ÷ each baseline's."""
    by_arm = {c.arm: c.per_task() for c in costs}
    relier = by_arm.get("relier", {})
    rows: list[tuple[str, ...]] = []
    for key, words, unit in MEASURES:
        values = [cell(by_arm[c.arm][key]) for c in costs]
        ratios = [ratio_text(value, baseline) if (value := relier.get(key)) is not None
                  and (baseline := by_arm.get(arm, {}).get(key)) is not None else "—"
                  for arm in COST_BASELINES]
        rows.append((f"{words}{f' ({unit})' if unit else ''}", *values, *ratios))
    return rows


def idle_rows(costs: Sequence[Cost]) -> list[tuple[str, ...]]:
    def rate(value: float | None, seconds: float) -> str:
        return "—" if value is None else format_number(value / seconds)

    return [(c.arm, rate(c.idle.calls.calls, c.idle.seconds),
             rate(c.idle_trips.total, c.idle_trips_s), rate(c.idle.cpu_s * 1e3, c.idle.seconds),
             rate(c.idle.aof_bytes, c.idle.seconds),
             ", ".join(f"{name} {calls}" for name, (calls, _) in c.idle.calls.by_command.items()))
            for c in costs]


def figures_of(costs: Sequence[Cost], methods: Mapping[str, str]) -> list[Figure]:
    """Each figure of `MEASURES`, relier beside vanilla+backend, then beside vanilla."""
    found: list[Figure] = []
    for key, words, unit in MEASURES:
        values: dict[str, Cell] = {}
        for c in costs:
            value = getattr(c, key)
            values[c.arm] = None if value is None else round(value, 2)
        found += versus(f"redis-cost: {words} per task lifecycle", unit, methods[key], values,
                        COST_BASELINES)
    return found


def notes_of(costs: Sequence[Cost], cores: int | None) -> list[str]:
    cpu_sources = {c.run.cpu_source for c in costs}
    aof = "; ".join(f"{c.arm}: idle {c.idle.aof_note}, run {c.run.aof_note}" for c in costs)
    notes = [
        "Commands: Redis counts the commands a Lua script runs as commands, besides the "
        "script's EVALSHA; round trips count the requests clients send (a script call is one, "
        "a MULTI…EXEC transaction is one). vanilla with its defaults keeps no result; "
        f"{FAIR_BASELINE} stores each one (and delay() subscribes to it), as relier records "
        "every task's state, result and events: read relier beside vanilla+backend first.",
        f"AOF (appendonly yes, appendfsync everysec): {aof}.",
        "MONITOR (round trips) ran in its own pass, after the counters' pass, on the same "
        "server and worker: it costs the server CPU, so no CPU figure is read while it runs. "
        "MONITOR does not show admin commands (CONFIG, DEBUG...), hence 'MONITOR commands' "
        "could fall short of commandstats'.",
        f"Redis main-thread CPU per task is noisy on a {cores or '?'}-core machine that the "
        "server, the worker and the benchmark process share; command, round-trip and AOF "
        "counts do not vary with load.",
        "What relier's extra commands buy, per task (prefork, prefetch off): dispatch (one "
        "script) writes the record with the signed message (so any copy can be re-queued "
        "after a loss), indexes it in rl:queued (the loss-window sweep), reads live admission "
        "limits and appends `dispatched`; start (one script) checks the copy's ticket, bumps "
        "the fence, puts the task in its process's held set and lease (recovery within the "
        "lease TTL) and appends `started`; complete (one script) checks the fence, stores the "
        "result, releases the held set, sets the record's TTL, counts the SLO outcome and "
        "appends `completed`. vanilla+backend's extra commands are its result SET, PUBLISH "
        "and the caller's SUBSCRIBE/UNSUBSCRIBE. AOF: relier's message is written twice (the "
        "list and the record that can re-queue it), packed (relier/packing.py: DEFLATE "
        "against a dictionary of the text every message shares) to about 370 bytes each for "
        "a no-op call, from about 1,070 as kombu JSON; vanilla+backend also writes its message "
        "twice (the list and kombu's unacked hash), unpacked.",
    ]
    if cpu_sources != {MAIN_THREAD}:
        notes.append("This server reports no main-thread CPU (used_cpu_*_main_thread): the CPU "
                     "figures are the whole process's (used_cpu_sys + used_cpu_user).")
    return notes


def run(args: argparse.Namespace) -> int:
    if min(args.tasks, args.warmup) < 1 or args.idle <= 0:
        raise SystemExit("--tasks and --warmup must be >= 1, --idle > 0")
    arms: list[str] = args.arm or list(COST_ARMS)
    began = now_utc()
    binary = server_binary(args.server)
    costs: list[Cost] = []
    machine: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="relier-bench-redis-cost-") as tmp:
        for arm in arms:
            cost, described = measure(arm, Path(tmp) / arm, binary, tasks=args.tasks,
                                      warmup=args.warmup, idle=args.idle,
                                      timeout=max(120.0, args.tasks * 0.05))
            costs.append(cost)
            machine = machine or described

    cpu_fields = ("used_cpu_sys_main_thread + used_cpu_user_main_thread"
                  if all(c.run.cpu_source == MAIN_THREAD for c in costs)
                  else "used_cpu_sys + used_cpu_user (no main-thread fields on this server)")
    common = (f"{args.tasks:,} no-op tasks per arm pushed by the benchmark process (relier "
              f"push(), vanilla+backend delay(), vanilla send_task()) and run by {WORKERS}, "
              f"completions read from the worker log; fresh {server_label(machine)} per arm, "
              f"appendonly yes, everysec; per task, net of the idle worker's rate ({args.idle:g} "
              f"s window of the same pass) over the run's duration")
    pass_1 = "pass 1 (no MONITOR): from CONFIG RESETSTAT to the last success, one INFO at each end"
    methods = {
        "commands": f"INFO commandstats calls, {pass_1}; commands inside Lua scripts included as "
                    f"Redis counts them, the benchmark's own INFO/CONFIG excluded; {common}",
        "round_trips": f"pass 2 (same server and worker, {args.tasks:,} more tasks): MONITOR on "
                       f"a dedicated connection, between two ECHO markers of the benchmark's own "
                       f"connection (excluded); per client a MULTI…EXEC = 1, any other line = 1 "
                       f"(pipelined plain commands 1 each), [lua] lines = 0; {common}",
        "cpu_us": f"INFO cpu {cpu_fields}, difference over {pass_1}; {common}",
        "aof_bytes": f"INFO persistence aof_current_size, difference over {pass_1} (checked: "
                     f"aof_rewrite_in_progress and aof_rewrite_scheduled 0 at both ends, "
                     f"aof_rewrites unchanged; else not reported); {common}",
    }
    figures = figures_of(costs, methods)
    names = [c.arm for c in costs]
    tables: list[Table] = [
        table("Redis cost per task lifecycle, by arm", f"commands: {methods['commands']}; round "
              f"trips and MONITOR commands (clients' and scripts' lines): pass 2, as the round "
              f"trips' figure says; CPU and AOF: pass 1's INFO cpu and persistence; 'raw' = not "
              f"net of idle",
              ("arm", "commands", "commands raw", "round trips", "MONITOR commands",
               "main-thread CPU µs", "CPU µs raw", "AOF bytes", "AOF check", "pass 1 s",
               "pass 2 s"),
              per_task_rows(costs)),
        table("ratios: relier ÷ each vanilla arm", "the per-task figures above (net of idle)",
              ("per task", *names, *(f"relier ÷ {arm}" for arm in COST_BASELINES)),
              ratio_rows(costs)),
        table("Redis commands per task lifecycle, by command (raw)", methods["commands"],
              ("command", *names),
              command_rows({c.arm: c.run.calls.per(c.tasks) for c in costs})),
        table("client round trips per task lifecycle, by request (raw)", methods["round_trips"],
              ("request", *names),
              command_rows({c.arm: {name: n / c.tasks for name, n in c.run_trips.by_request.items()}
                            for c in costs})),
        table("background of an idle worker, per second", "pass 1's idle window (commands, "
              "CPU, AOF) and pass 2's (round trips), what the net figures subtract",
              ("arm", "commands", "round trips", "main-thread CPU ms", "AOF bytes",
               "commands idle (pass 1)"), idle_rows(costs)),
    ]
    publish(NAME, args.json_out, began,
            [f"redis-cost: Redis cost per task lifecycle ({machine_summary(machine)})",
             format_text(figures, tables)],
            description="Redis commands, client round trips, main-thread CPU and AOF bytes per "
                        "task lifecycle: relier beside vanilla Celery with a Redis result "
                        "backend and with its defaults",
            config={"tasks": args.tasks, "warmup": args.warmup, "idle_s": args.idle,
                    "arms": arms},
            machine=machine, figures=figures, tables=tables,
            notes=notes_of(costs, machine.get("cpu_count")),
            arms=[{**asdict(c), "per_task": c.per_task()} for c in costs])
    return 0


BENCHMARK = Benchmark(
    name=NAME,
    help="Redis commands, client round trips (MONITOR), main-thread CPU and AOF bytes per task "
         "lifecycle: relier vs vanilla Celery with and without a result backend",
    add_arguments=add_arguments,
    run=run,
    scale={"tasks": 10_000},
)
