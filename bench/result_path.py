"""The result path's cost: Redis commands and server CPU per ``delay()`` + ``AsyncResult.get()``.

Three arms (`bench.noop_arms.RESULT_ARMS`), each once per round (order rotated every round), on a
fresh Redis-compatible server (loopback) each time, with a ``celery worker`` (prefork ``-c 2``)
that has run a warm-up of the same calls:

- ``vanilla+backend``: vanilla Celery with a Redis result backend on the same server (the
  baseline);
- ``relier``: relier's app with no result backend configured (reads come from relier's record);
- ``relier+backend``: relier's app whose Celery app configures the same Redis result backend
  (relier's tasks still read their record; nothing may be written to the backend for them).

Per arm and round: ``CONFIG RESETSTAT`` and a quiet window (the worker's background rate), then
``CONFIG RESETSTAT`` and N no-op tasks, one at a time: ``delay()``, then ``get()``. Server side,
``INFO commandstats`` (calls and usec of every command; commands run inside Lua scripts count as
Redis counts them, the script's EVALSHA once more) and ``INFO cpu`` (the server's
used_cpu_user + used_cpu_sys), the benchmark's own ``CONFIG RESETSTAT``/``INFO`` left out.
Client side, `bench.client_commands` counts what the benchmark process sends in ``delay()`` and
in ``get()``: commands and round trips. An arm's rounds are pooled (`pooled`).
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import redis

from bench import Benchmark
from bench.client_commands import OTHER, ClientTally, commands_in, counting
from bench.commands import Calls, command_rows, reading
from bench.figures import Figure, Table, format_number, format_text, table
from bench.noop_arms import RESULT_ARMS, WORKERS, ResultArm, result_arm, started
from bench.options import add_number, add_output_options
from bench.report import Stats, summarize
from bench.result_files import machine_summary, now_utc, publish, server_label
from bench.servers import rotating_arms
from relier.testing import server_binary

NAME = "results"
#: The arm every ratio divides by.
BASELINE = "vanilla+backend"
#: Keys of Celery's Redis result backend (``celery-task-meta-<task id>``).
BACKEND_KEYS = "celery-task-meta-*"
#: The benchmark process's phases of one task.
DELAY, GET = "delay()", "get()"
#: Commands sent only to receive a result: Celery's pub/sub subscription to it (in ``delay()``).
SUBSCRIPTION = ("subscribe", "unsubscribe")
#: Script calls: one round trip each, whatever the script runs inside.
SCRIPT_CALLS = ("evalsha", "eval", "fcall")


def server_cpu_s(info: Mapping[str, Any]) -> float:
    """The server process's CPU time (user + sys, seconds) from ``INFO cpu``."""
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


@dataclass(frozen=True, slots=True)
class ResultPath:
    """What one arm measured over its rounds: the server's counts over the idle windows and the
    tasks, what the benchmark process sent (phase -> command -> count, phase -> round trips),
    each task's delay() + get() time, the backend keys left, the CPU per task of each round."""

    arm: str
    rounds: int
    tasks: int
    idle_s: float
    run_s: float
    idle: Calls
    run: Calls
    idle_cpu_s: float
    run_cpu_s: float
    sent: dict[str, dict[str, int]]
    round_trips: dict[str, int]
    durations_ns: tuple[int, ...]
    backend_keys: int
    cpu_us_by_round: tuple[float, ...]

    @property
    def latency(self) -> Stats:
        return summarize(self.durations_ns)

    @property
    def commands(self) -> float:
        return self.run.calls / self.tasks

    @property
    def script_calls(self) -> float:
        return sum(self.run.by_command.get(name, (0, 0))[0] for name in SCRIPT_CALLS) / self.tasks

    @property
    def usec(self) -> float:
        return self.run.usec / self.tasks

    @property
    def cpu_us(self) -> float:
        return self.run_cpu_s * 1e6 / self.tasks

    @property
    def net_cpu_us(self) -> float:
        """Server CPU per task less the idle rate over the run's duration."""
        return (self.run_cpu_s - self.idle_cpu_s / self.idle_s * self.run_s) * 1e6 / self.tasks

    @property
    def client_round_trips(self) -> float:
        return sum(self.round_trips.values()) / self.tasks

    @property
    def reads(self) -> float:
        """Commands spent on reading the result: every one sent in ``get()``, and the result
        subscription wherever it was sent."""
        return commands_in(self.sent, (GET,), SUBSCRIPTION) / self.tasks


def _summed(parts: Sequence[Mapping[str, int]]) -> dict[str, int]:
    total: Counter[str] = Counter()
    for part in parts:
        total.update(part)
    return dict(sorted(total.items()))


def pooled(paths: Sequence[ResultPath]) -> ResultPath:
    """One arm's rounds as one: counts, times and samples added up, rounds kept in order."""
    arms = {p.arm for p in paths}
    if len(arms) != 1:
        raise ValueError(f"pooling rounds of one arm, got {sorted(arms)}")

    def calls(phase: str) -> Calls:
        found: dict[str, tuple[int, int]] = {}
        for p in paths:
            for name, (count, usec) in getattr(p, phase).by_command.items():
                before = found.get(name, (0, 0))
                found[name] = (before[0] + count, before[1] + usec)
        return Calls(dict(sorted(found.items())))

    phases = sorted({phase for p in paths for phase in p.sent})
    return ResultPath(
        arm=paths[0].arm, rounds=sum(p.rounds for p in paths), tasks=sum(p.tasks for p in paths),
        idle_s=sum(p.idle_s for p in paths), run_s=sum(p.run_s for p in paths),
        idle=calls("idle"), run=calls("run"), idle_cpu_s=sum(p.idle_cpu_s for p in paths),
        run_cpu_s=sum(p.run_cpu_s for p in paths),
        sent={phase: _summed([p.sent.get(phase, {}) for p in paths]) for phase in phases},
        round_trips=_summed([p.round_trips for p in paths]),
        durations_ns=tuple(d for p in paths for d in p.durations_ns),
        backend_keys=sum(p.backend_keys for p in paths),
        cpu_us_by_round=tuple(cpu for p in paths for cpu in p.cpu_us_by_round))


def one_task(subject: ResultArm, tally: ClientTally, timeout: float) -> int:
    """``delay()`` then ``get()``, counted in their phases; returns the nanoseconds both took."""
    began = time.perf_counter_ns()
    tally.phase = DELAY
    result = subject.delay()
    tally.phase = GET
    result.get(timeout=timeout)
    elapsed = time.perf_counter_ns() - began
    del result  # a result's release may send commands too: they count as OTHER
    tally.phase = OTHER
    return elapsed


def measure(arm: str, url: str, directory: Path, *, tasks: int, warmup: int, idle: float,
            timeout: float) -> ResultPath:
    """One round of `arm` on the (fresh) server at `url`."""
    client = redis.Redis.from_url(url)
    try:
        subject = result_arm(arm, url)
        with started(subject.worker(directory / "worker.log")):
            for _ in range(warmup):
                subject.delay().get(timeout=timeout)
            time.sleep(0.5)
            client.config_resetstat()
            idle_began, cpu_began = time.monotonic(), server_cpu_s(client.info("cpu"))
            time.sleep(idle)
            idle_calls = reading(client)
            idle_cpu = server_cpu_s(client.info("cpu")) - cpu_began
            idle_s = time.monotonic() - idle_began
            client.config_resetstat()
            cpu_began = server_cpu_s(client.info("cpu"))
            began = time.monotonic()
            with counting() as tally:
                durations = [one_task(subject, tally, timeout) for _ in range(tasks)]
            run_s = time.monotonic() - began
            run_calls = reading(client)
            run_cpu = server_cpu_s(client.info("cpu")) - cpu_began
        backend_keys = count_keys(client, BACKEND_KEYS)
    finally:
        client.close()
    return ResultPath(arm=arm, rounds=1, tasks=tasks, idle_s=idle_s, run_s=run_s,
                      idle=idle_calls, run=run_calls, idle_cpu_s=idle_cpu, run_cpu_s=run_cpu,
                      sent=tally.commands_by_phase(), round_trips=dict(tally.round_trips),
                      durations_ns=tuple(durations), backend_keys=backend_keys,
                      cpu_us_by_round=(run_cpu * 1e6 / tasks,))


def count_keys(client: redis.Redis, pattern: str) -> int:
    return sum(1 for _ in client.scan_iter(match=pattern, count=1000))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_number(parser, "--tasks", 500, "no-op tasks sent with delay() and read with get(), "
                                       "one at a time, per arm and round")
    add_number(parser, "--rounds", 3, "rounds (each arm once per round, fresh server each)")
    add_number(parser, "--warmup", 20, "tasks sent and read before counting")
    add_number(parser, "--idle", 3.0, "quiet window for the background rate, s")
    parser.add_argument("--arm", choices=RESULT_ARMS, action="append", default=None,
                        help="run only this arm (repeatable; default: all)")
    add_output_options(parser, NAME)


def ratio_text(value: float, baseline: float | None) -> str:
    """``value`` ÷ ``baseline`` as ``1.23x``; ``—`` without a baseline (or a zero one)."""
    return "—" if not baseline else f"{value / baseline:.2f}x"


#: The per-task figures of the summary tables: (column, `ResultPath` property).
MEASURES = (("commands", "commands"), ("EVALSHA", "script_calls"),
            ("commandstats µs", "usec"), ("server CPU µs", "cpu_us"),
            ("server CPU µs, net of idle", "net_cpu_us"),
            ("client round trips", "client_round_trips"), ("read commands", "reads"))


def per_task_rows(paths: Sequence[ResultPath]) -> list[tuple[str, ...]]:
    """One row per arm: every `MEASURES` figure per task, then the spread and outcome."""
    return [(p.arm, *(format_number(getattr(p, attribute)) for _, attribute in MEASURES),
             ", ".join(format_number(cpu) for cpu in p.cpu_us_by_round),
             f"{p.latency.p50_ns / 1e6:.2f}", f"{p.backend_keys:,}") for p in paths]


def ratio_rows(paths: Sequence[ResultPath]) -> list[tuple[str, ...]]:
    """One row per arm: every `MEASURES` figure ÷ the baseline arm's (when it ran)."""
    baseline = next((p for p in paths if p.arm == BASELINE), None)
    return [(p.arm, *(ratio_text(getattr(p, attribute),
                                 None if baseline is None else getattr(baseline, attribute))
                      for _, attribute in MEASURES)) for p in paths]


def client_rows(paths: Sequence[ResultPath]) -> list[tuple[str, ...]]:
    """Per task, what the benchmark process sent, by phase and command, then round trips."""
    phases = sorted({phase for p in paths for phase in p.sent},
                    key=lambda phase: ({DELAY: 0, GET: 1}.get(phase, 2), phase))
    rows: list[tuple[str, ...]] = []
    for phase in phases:
        names = sorted({name for p in paths for name in p.sent.get(phase, {})})
        rows += [(f"{phase} {name}", *(f"{p.sent.get(phase, {}).get(name, 0) / p.tasks:.2f}"
                                       for p in paths)) for name in names]
    rows += [(f"{phase} round trips", *(f"{p.round_trips.get(phase, 0) / p.tasks:.2f}"
                                        for p in paths)) for phase in phases]
    return rows


def idle_rows(paths: Sequence[ResultPath]) -> list[tuple[str, ...]]:
    return [(p.arm, f"{p.idle.calls / p.idle_s:.2f}", f"{p.idle_cpu_s * 1e3 / p.idle_s:.2f}",
             ", ".join(f"{name} {calls}" for name, (calls, _) in p.idle.by_command.items()),
             f"{p.run_s:.2f}") for p in paths]


def figures_of(paths: Sequence[ResultPath], method: str, read_method: str) -> list[Figure]:
    """The summary lines: relier's arms in relier's column, vanilla+backend in vanilla's."""
    by_arm = {p.arm: p for p in paths}
    baseline = by_arm.get(BASELINE)

    def figure(name: str, unit: str, arm: str, attribute: str, text: str) -> Figure | None:
        if arm not in by_arm:
            return None
        return Figure(name=name, unit=unit, method=text,
                      relier=round(getattr(by_arm[arm], attribute), 2),
                      vanilla=None if baseline is None else round(getattr(baseline, attribute), 2))

    found = [
        figure("result path: Redis commands per task, delay() + get() (vanilla with a Redis "
               "result backend)", "", "relier", "commands", method),
        figure("result path: the same, relier's app with a Redis result backend configured", "",
               "relier+backend", "commands", method),
        figure("result path: Redis server CPU per task (INFO cpu)", "µs", "relier", "cpu_us",
               method),
        figure("result reads: commands per get() (+ result subscription)", "", "relier",
               "reads", read_method),
    ]
    return [f for f in found if f is not None]


def check_nothing_written(paths: Sequence[ResultPath]) -> list[str]:
    """A line per relier arm that left keys in Celery's result backend (there must be none)."""
    return [f"{p.arm}: {p.backend_keys} {BACKEND_KEYS} keys after its rounds"
            for p in paths if p.arm.startswith("relier") and p.backend_keys]


def run(args: argparse.Namespace) -> int:
    if min(args.tasks, args.warmup, args.rounds) < 1 or args.idle <= 0:
        raise SystemExit("--tasks, --warmup and --rounds must be >= 1, --idle > 0")
    arms: list[str] = args.arm or list(RESULT_ARMS)
    began = now_utc()

    def one_round(arm: str, _round: int, url: str, directory: Path) -> ResultPath:
        return measure(arm, url, directory, tasks=args.tasks, warmup=args.warmup,
                       idle=args.idle, timeout=30.0)

    machine, rounds = rotating_arms(NAME, arms, args.rounds, server_binary(args.server),
                                    one_round)
    paths = [pooled([r for r in rounds if r.arm == arm]) for arm in arms]

    label = server_label(machine)
    sample = (f"{args.rounds} rounds x {args.tasks:,} no-op tasks per arm (arm order rotated "
              f"each round, a fresh {label} each time), pooled")
    method = (f"{sample}, one task at a time: delay() then AsyncResult.get(); INFO commandstats "
              f"calls after CONFIG RESETSTAT (commands inside Lua scripts included as Redis "
              f"counts them, EVALSHA shown apart), INFO cpu used_cpu_user + used_cpu_sys, divided "
              f"by tasks; the benchmark's own RESETSTAT/INFO excluded; vanilla column: vanilla "
              f"Celery with result_backend on the same server; {WORKERS}")
    read_method = (f"commands the benchmark process sent inside get(), plus Celery's SUBSCRIBE/"
                   f"UNSUBSCRIBE to the result, counted in redis-py, per task; relier's get() "
                   f"polls its record (one HMGET every 2 ms, doubling to 50 ms) so its reads grow "
                   f"with the wait (here a no-op task), vanilla's waits on one pub/sub message; "
                   f"{sample}")
    figures = figures_of(paths, method, read_method)
    arm_names = [p.arm for p in paths]
    tables: list[Table] = [
        table("result path per task, by arm", method + "; client = the benchmark process "
              "(delay + get) counted in redis-py: round trips are its requests written (a "
              "pipeline is one); read = sent inside get() + the result subscription; "
              "backend keys = celery-task-meta-* keys after each round, added up",
              ("arm", *(name for name, _ in MEASURES), "server CPU µs by round",
               "delay + get p50 ms", "backend keys"),
              per_task_rows(paths)),
        table(f"ratio to {BASELINE}", "each per-task figure of the table above ÷ "
              f"{BASELINE}'s", ("arm", *(name for name, _ in MEASURES)), ratio_rows(paths)),
        table("Redis commands per task, by command (every client)", method, ("command", *arm_names),
              command_rows({p.arm: p.run.per(p.tasks) for p in paths})),
        table("sent by the benchmark process per task, by call and command", read_method,
              ("call command", *arm_names), client_rows(paths)),
        table("background traffic of an idle worker", (
            f"CONFIG RESETSTAT, {args.idle:g} s with nothing queued per round, INFO commandstats "
            "and INFO cpu, pooled; 'net of idle' above = the run's server CPU less this rate "
            "over the run"),
            ("arm", "commands/s", "server CPU ms/s", "commands idle", "run phases, s"), idle_rows(paths)),
    ]
    problems = check_nothing_written(paths)
    publish(NAME, args.json_out, began,
            [f"results: the result path's cost per task ({machine_summary(machine)})",
             format_text(figures, tables), *(f"WRONG: {line}" for line in problems)],
            description="Redis commands and server CPU per delay() + AsyncResult.get(): relier "
                        "without and with an app result backend, beside vanilla Celery with a "
                        "Redis result backend",
            config={"tasks": args.tasks, "rounds": args.rounds, "warmup": args.warmup,
                    "idle_s": args.idle, "arms": arms},
            machine=machine, figures=figures, tables=tables,
            notes=[
                "relier writes nothing per task for results beyond its own record, which its "
                "lifecycle writes whether or not anything reads it (see commands): with or "
                "without a result backend configured, its result path is get()'s reads (a run "
                "fails if a relier arm leaves a celery-task-meta-* key). Vanilla Celery's "
                "worker writes each result (a GET of the stored state, then SETEX + PUBLISH in "
                "MULTI/EXEC) and delay() subscribes to it. relier's get() reads the record with "
                "one HMGET per poll, every 2 ms doubling to 50 ms: a task that takes 1 s costs "
                "about 25 reads (from that schedule, not measured here), vanilla's 3 "
                "(SUBSCRIBE, GET, UNSUBSCRIBE) whatever the wait.",
                "commandstats usec: a script's EVALSHA (and an EXEC) is timed with the commands "
                "it runs, which are timed again under their own names, so the sum overstates "
                "the server's time for relier; INFO cpu counts the whole server process once "
                "(event loop and network included). Client round trips are the benchmark "
                "process's alone; the worker's are in the server's command count, not counted "
                "as round trips.",
                "Server CPU per task varies from round to round on a 2-core machine that the "
                "server, the worker and the benchmark process share: read a CPU ratio beside "
                "the 'by round' column. Command counts do not vary with load.",
            ],
            arms=[{**asdict(p), "latency": asdict(p.latency),
                   "per_task": {attribute: getattr(p, attribute) for _, attribute in MEASURES}}
                  for p in paths])
    for line in problems:
        print(f"relier wrote to the result backend: {line}")
    return 1 if problems else 0


BENCHMARK = Benchmark(
    name=NAME,
    help="the result path's Redis commands and server CPU per delay() + get(): relier without "
         "and with an app result backend, vanilla Celery with a Redis result backend",
    add_arguments=add_arguments,
    run=run,
    scale={"tasks": 2_000},
)
