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

Each arm runs once per round (``--rounds``, order rotated every round, a fresh server each
time): the figures are each arm's median over the rounds, and a table shows every round's
CPU with its ratios (main-thread CPU is the one figure that varies from run to run).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

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
from bench.servers import rotating_arms
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


def median_per_task(rounds: Sequence[Cost]) -> dict[str, float | None]:
    """Each figure's median over `rounds` (one arm's), None where no round has it."""
    found: dict[str, float | None] = {}
    for key, *_ in MEASURES:
        values = [value for cost in rounds if (value := getattr(cost, key)) is not None]
        found[key] = statistics.median(values) if values else None
    return found


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


def measure(arm: str, url: str, directory: Path, *, tasks: int, warmup: int, idle: float,
            timeout: float) -> Cost:
    """One round of `arm` on the fresh server at `url`, files in `directory`."""
    client = redis.Redis.from_url(url)
    try:
        subject = cost_arm(arm, url)
        log = WorkerLog(directory / "worker.log")
        with started(subject.worker(log.path)):
            last = send(subject, warmup)
            log.wait_successes(warmup, timeout)
            settle(subject, last, timeout)
            idle_window, run_window, last = server_pass(
                client, idle, lambda: lifecycles(subject, log, warmup, tasks, timeout)[0])
            settle(subject, last, timeout)
            port = int(client.connection_pool.connection_kwargs["port"])
            idle_trips, idle_s, run_trips, run_s = monitor_pass(
                port, idle, lambda: lifecycles(subject, log, warmup + tasks, tasks, timeout))
    finally:
        client.close()
    return Cost(arm=arm, tasks=tasks, idle=idle_window, run=run_window, idle_trips=idle_trips,
                idle_trips_s=idle_s, run_trips=run_trips, run_trips_s=run_s)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_number(parser, "--tasks", 1000, "no-op tasks pushed and run in each pass, per arm")
    add_number(parser, "--warmup", 20, "no-op tasks run before counting")
    add_number(parser, "--idle", 3.0, "quiet window for the background rate, s")
    add_number(parser, "--rounds", 3, "rounds; each runs every arm (order rotated), figures "
               "are medians")
    parser.add_argument("--arm", choices=COST_ARMS, action="append", default=None,
                        help="run only this arm (repeatable; default: all)")
    add_output_options(parser, NAME)


def cell(value: float | None) -> str:
    return "—" if value is None else format_number(value)


def per_task_rows(costs: Sequence[Cost]) -> list[tuple[str, ...]]:
    """One row per arm and round: every figure per task (net of idle, and raw where it
    differs)."""
    rounds: dict[str, int] = {}
    rows: list[tuple[str, ...]] = []
    for c in costs:
        rounds[c.arm] = rounds.get(c.arm, 0) + 1
        rows.append((c.arm, str(rounds[c.arm]), cell(c.commands), cell(c.commands_raw),
                     cell(c.round_trips), cell(c.monitor_commands), cell(c.cpu_us),
                     cell(c.cpu_us_raw), cell(c.aof_bytes), c.run.aof_note,
                     f"{c.run.seconds:.2f}", f"{c.run_trips_s:.2f}"))
    return rows


def by_arm(costs: Sequence[Cost]) -> dict[str, list[Cost]]:
    """`costs` grouped by arm, in the order the arms first appear, rounds in order."""
    grouped: dict[str, list[Cost]] = {}
    for c in costs:
        grouped.setdefault(c.arm, []).append(c)
    return grouped


def ratio_rows(costs: Sequence[Cost]) -> list[tuple[str, ...]]:
    """One row per figure: each arm's median, then relier's ÷ each baseline's."""
    medians = {arm: median_per_task(rounds) for arm, rounds in by_arm(costs).items()}
    relier = medians.get("relier", {})
    rows: list[tuple[str, ...]] = []
    for key, words, unit in MEASURES:
        values = [cell(figures[key]) for figures in medians.values()]
        ratios = [ratio_text(value, baseline) if (value := relier.get(key)) is not None
                  and (baseline := medians.get(arm, {}).get(key)) is not None else "—"
                  for arm in COST_BASELINES]
        rows.append((f"{words}{f' ({unit})' if unit else ''}", *values, *ratios))
    return rows


def cpu_round_rows(costs: Sequence[Cost]) -> list[tuple[str, ...]]:
    """Per round: each arm's main-thread CPU per task and relier's ÷ each baseline's in that
    round; last, the median of each column."""
    grouped = by_arm(costs)
    count = max((len(rounds) for rounds in grouped.values()), default=0)
    columns: list[list[float | None]] = []
    for index in range(count):
        cpu = {arm: rounds[index].cpu_us for arm, rounds in grouped.items() if index < len(rounds)}
        mine = cpu.get("relier")
        columns.append([cpu.get(arm) for arm in grouped] + [
            mine / cpu[arm] if mine is not None and cpu.get(arm) else None
            for arm in COST_BASELINES])

    def text(value: float | None, column: int) -> str:
        if value is None:
            return "—"
        return f"{value:.2f}x" if column >= len(grouped) else format_number(value)

    rows = [(str(index + 1), *(text(v, i) for i, v in enumerate(values)))
            for index, values in enumerate(columns)]
    medians: list[float | None] = []
    for i in range(len(grouped) + len(COST_BASELINES)):
        present = [value for values in columns if (value := values[i]) is not None]
        medians.append(statistics.median(present) if present else None)
    return [*rows, ("median", *(text(v, i) for i, v in enumerate(medians)))]


def mean_per_command(rounds: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """Per command (or request), the mean over rounds of its count per task."""
    names = {name for counts in rounds for name in counts}
    return {name: sum(counts.get(name, 0.0) for counts in rounds) / len(rounds)
            for name in names}


def idle_rows(costs: Sequence[Cost]) -> list[tuple[str, ...]]:
    def rate(value: float | None, seconds: float) -> str:
        return "—" if value is None else format_number(value / seconds)

    return [(c.arm, str(index + 1), rate(c.idle.calls.calls, c.idle.seconds),
             rate(c.idle_trips.total, c.idle_trips_s), rate(c.idle.cpu_s * 1e3, c.idle.seconds),
             rate(c.idle.aof_bytes, c.idle.seconds),
             ", ".join(f"{name} {calls}" for name, (calls, _) in c.idle.calls.by_command.items()))
            for rounds in by_arm(costs).values() for index, c in enumerate(rounds)]


def figures_of(costs: Sequence[Cost], methods: Mapping[str, str]) -> list[Figure]:
    """Each figure of `MEASURES` (each arm's median over its rounds), relier beside
    vanilla+backend, then beside vanilla."""
    medians = {arm: median_per_task(rounds) for arm, rounds in by_arm(costs).items()}
    found: list[Figure] = []
    for key, words, unit in MEASURES:
        values: dict[str, Cell] = {}
        for arm, figures in medians.items():
            value = figures[key]
            values[arm] = None if value is None else round(value, 2)
        found += versus(f"redis-cost: {words} per task lifecycle", unit, methods[key], values,
                        COST_BASELINES)
    return found


def notes_of(costs: Sequence[Cost], cores: int | None) -> list[str]:
    cpu_sources = {c.run.cpu_source for c in costs}
    aof = "; ".join(sorted({f"{c.arm}: idle {c.idle.aof_note}, run {c.run.aof_note}"
                            for c in costs}))
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
        "server, the worker and the benchmark process share (a server woken for each request "
        "runs its code from cold caches, so the same scripts cost it several times what they "
        "cost back to back); command, round-trip and AOF counts do not vary with load. Hence "
        "the rounds: each figure is the arm's median, and the CPU table shows every round's "
        "ratios beside the medians.",
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
    if min(args.tasks, args.warmup, args.rounds) < 1 or args.idle <= 0:
        raise SystemExit("--tasks, --warmup and --rounds must be >= 1, --idle > 0")
    arms: list[str] = args.arm or list(COST_ARMS)
    began = now_utc()
    binary = server_binary(args.server)

    def one(arm: str, _round: int, url: str, directory: Path) -> Cost:
        return measure(arm, url, directory, tasks=args.tasks, warmup=args.warmup,
                       idle=args.idle, timeout=max(120.0, args.tasks * 0.05))

    machine, measured = rotating_arms(NAME, arms, args.rounds, binary, one)
    # each arm's rounds in order, the arms in `arms`' order
    costs = [c for arm in arms for c in measured if c.arm == arm]

    cpu_fields = ("used_cpu_sys_main_thread + used_cpu_user_main_thread"
                  if all(c.run.cpu_source == MAIN_THREAD for c in costs)
                  else "used_cpu_sys + used_cpu_user (no main-thread fields on this server)")
    common = (f"{args.rounds} rounds (arm order rotated, a fresh server each), median per arm; "
              f"{args.tasks:,} no-op tasks per arm and round pushed by the benchmark process (relier "
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
    names = list(by_arm(costs))
    tables: list[Table] = [
        table("Redis main-thread CPU per task lifecycle, by round", methods["cpu_us"],
              ("round", *(f"{arm} µs" for arm in names),
               *(f"relier ÷ {arm}" for arm in COST_BASELINES)), cpu_round_rows(costs)),
        table("Redis cost per task lifecycle, by arm and round", f"commands: {methods['commands']}; round "
              f"trips and MONITOR commands (clients' and scripts' lines): pass 2, as the round "
              f"trips' figure says; CPU and AOF: pass 1's INFO cpu and persistence; 'raw' = not "
              f"net of idle",
              ("arm", "round", "commands", "commands raw", "round trips", "MONITOR commands",
               "main-thread CPU µs", "CPU µs raw", "AOF bytes", "AOF check", "pass 1 s",
               "pass 2 s"),
              per_task_rows(costs)),
        table("ratios: relier ÷ each vanilla arm", "each arm's median of the per-task figures "
              "above (net of idle)",
              ("per task", *names, *(f"relier ÷ {arm}" for arm in COST_BASELINES)),
              ratio_rows(costs)),
        table("Redis commands per task lifecycle, by command (raw, mean of the rounds)",
              methods["commands"],
              ("command", *names),
              command_rows({arm: mean_per_command([c.run.calls.per(c.tasks) for c in rounds])
                            for arm, rounds in by_arm(costs).items()})),
        table("client round trips per task lifecycle, by request (raw, mean of the rounds)",
              methods["round_trips"],
              ("request", *names),
              command_rows({arm: mean_per_command([
                  {name: n / c.tasks for name, n in c.run_trips.by_request.items()}
                  for c in rounds]) for arm, rounds in by_arm(costs).items()})),
        table("background of an idle worker, per second", "pass 1's idle window (commands, "
              "CPU, AOF) and pass 2's (round trips), what the net figures subtract",
              ("arm", "round", "commands", "round trips", "main-thread CPU ms", "AOF bytes",
               "commands idle (pass 1)"), idle_rows(costs)),
    ]
    publish(NAME, args.json_out, began,
            [f"redis-cost: Redis cost per task lifecycle ({machine_summary(machine)})",
             format_text(figures, tables)],
            description="Redis commands, client round trips, main-thread CPU and AOF bytes per "
                        "task lifecycle: relier beside vanilla Celery with a Redis result "
                        "backend and with its defaults",
            config={"tasks": args.tasks, "warmup": args.warmup, "idle_s": args.idle,
                    "rounds": args.rounds, "arms": arms},
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
