"""The ceiling of one Redis: completed no-op tasks/s with producers and workers pushing it flat out.

Per arm (`bench.noop_arms.COST_ARMS`: relier, vanilla Celery with a Redis result backend,
vanilla Celery with its defaults), on a fresh Redis-compatible server (loopback, AOF
everysec): P producer processes push no-op tasks as fast as they can (relier ``push()``,
vanilla+backend ``delay()``, vanilla ``send_task()``), W ``celery worker`` processes (prefork
``-c C`` each) run them. Once every producer has pushed and the workers have logged their first
successes, a window of S seconds:

- completed: ``succeeded`` lines of the workers' logs stamped inside the window (Celery stamps
  them to the millisecond; the window closes once every log holds a line stamped after it);
- pushed: the producers' pushes that returned inside the window;
- the Redis main thread's utilisation: ``INFO cpu`` used_cpu_sys_main_thread +
  used_cpu_user_main_thread, their difference over the window's wall time (1.0 = one core
  all the time: the server cannot go faster);
- where the cores went: ``/proc/stat`` (all cores busy) and ``/proc/<pid>/stat`` of the server,
  the workers (with their pool processes) and the producers.

What saturated first follows (`bottleneck`). On a small machine producers, workers and Redis
share the cores: the machine, not Redis, is then the ceiling, and the report says so.

One server, its producers and its workers measure one arm (`Cell`). ``--cells 1,2,3`` runs
relier across 1, 2 and 3 Redis servers instead (`bench.cell_ceiling`): the scaling factor.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench import Benchmark, cell_ceiling
from bench.figures import Cell as FigureCell
from bench.figures import Figure, Table, format_text, table, versus
from bench.machine_cpu import busy_fraction, machine_times, process_cpu_s, processes_cpu_s
from bench.noop_arms import COST_ARMS, COST_BASELINES, cost_arm, started
from bench.options import add_number, add_output_options
from bench.result_files import machine_summary, now_utc, publish, server_label
from bench.result_path import ratio_text
from bench.saturation import (
    WARM_PER_PROCESS,
    Topology,
    bottleneck,
    log_caught_up,
    percent,
    producing,
    pushes_within,
    successes,
    worker_pids,
)
from bench.server_stats import MAIN_THREAD, snapshot
from bench.servers import connected_server, describe_machine
from bench.worker_log import WorkerLog
from relier.testing import server_binary, wait_until

NAME = "ceiling"


@dataclass(frozen=True, slots=True)
class Cell:
    """What one cell measured over its window (rates per second, utilisations 0 to 1)."""

    arm: str
    seconds: float
    completed: int
    pushed: int
    redis_main: float
    cpu_source: str
    redis_process: float | None
    workers_cpu: float | None
    producers_cpu: float | None
    machine_busy: float | None

    @property
    def completed_per_s(self) -> float:
        return self.completed / self.seconds

    @property
    def pushed_per_s(self) -> float:
        return self.pushed / self.seconds


def arm_pusher(arm: str, url: str) -> Callable[[], str]:
    """`arm`'s no-op push to the one server at `url` (a `PusherFactory` with its arguments)."""
    push = cost_arm(arm, url).push
    return lambda: (push(), "")[1]


def measure(arm: str, directory: Path, binary: Path, topology: Topology, *, seconds: float,
            timeout: float) -> tuple[Cell, dict[str, Any]]:
    """One cell of `arm`: its server, workers and producers, one window."""
    with connected_server(directory / "server", binary) as (server, client), \
            contextlib.ExitStack() as stack:
        machine = describe_machine(client, binary)
        subject = cost_arm(arm, server.url, concurrency=topology.concurrency)
        logs = [WorkerLog(directory / f"worker-{index}.log") for index in range(topology.workers)]
        workers = [stack.enter_context(started(subject.worker(log.path))) for log in logs]
        producers = stack.enter_context(
            producing(functools.partial(arm_pusher, arm, server.url), topology.producers))
        producers.wait_ready(timeout)
        warm = WARM_PER_PROCESS * topology.pool_processes
        wait_until(lambda: successes(logs) >= warm, timeout=timeout,
                   message=f"{arm}: {warm} successes not logged")
        server_pid = server.process.pid if server.process is not None else None
        pids = worker_pids(workers)

        def process_times() -> tuple[float | None, float, float]:
            redis_s = None if server_pid is None else process_cpu_s(server_pid)
            return redis_s, processes_cpu_s(pids), processes_cpu_s(producers.pids)

        began, first, cores_first, times_first = (time.time(), snapshot(client), machine_times(),
                                                  process_times())
        time.sleep(seconds)  # the measured window itself
        ended, last, cores_last, times_last = (time.time(), snapshot(client), machine_times(),
                                               process_times())
        wait_until(lambda: log_caught_up(logs, ended), timeout=timeout,
                   message=f"{arm}: worker logs not past the window's end")
        stamps = producers.finish(timeout)
    wall = last.at - first.at

    def share(index: int) -> float | None:
        start, end = times_first[index], times_last[index]
        return None if start is None or end is None else (end - start) / wall

    cell = Cell(
        arm=arm, seconds=ended - began,
        completed=sum(1 for log in logs for at in log.successes if began <= at < ended),
        pushed=sum(pushes_within(at, began, ended) for at in stamps.values()),
        redis_main=(last.cpu_s - first.cpu_s) / wall, cpu_source=last.cpu_source,
        redis_process=share(0), workers_cpu=share(1), producers_cpu=share(2),
        machine_busy=(None if cores_first is None or cores_last is None
                      else busy_fraction(cores_first, cores_last)))
    return cell, machine


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_number(parser, "--seconds", 10.0, "the measured window, per arm (per cell count)")
    add_number(parser, "--producers", 2, "producer processes pushing as fast as they can")
    add_number(parser, "--workers", 2, "celery worker processes (prefork)")
    add_number(parser, "--concurrency", 2, "pool processes per worker (-c)")
    parser.add_argument("--arm", choices=COST_ARMS, action="append", default=None,
                        help="run only this arm (repeatable; default: all)")
    cell_ceiling.add_arguments(parser)
    add_output_options(parser, NAME)



def cell_rows(cells: Sequence[Cell], cores: int | None) -> list[tuple[str, ...]]:
    return [(c.arm, f"{c.completed_per_s:,.0f}", f"{c.pushed_per_s:,.0f}",
             f"{c.completed:,}", percent(c.redis_main), percent(c.redis_process),
             percent(c.workers_cpu), percent(c.producers_cpu), percent(c.machine_busy),
             bottleneck(c.redis_main, c.machine_busy, cores)) for c in cells]


def ratio_rows(cells: Sequence[Cell]) -> list[tuple[str, ...]]:
    by_arm = {c.arm: c for c in cells}
    relier = by_arm.get("relier")
    rows: list[tuple[str, ...]] = []
    for words, attribute in (("completed tasks/s", "completed_per_s"),
                             ("Redis main-thread utilisation", "redis_main")):
        value = None if relier is None else float(getattr(relier, attribute))
        rows.append((words, *(ratio_text(value, float(getattr(by_arm[arm], attribute)))
                              if value is not None and arm in by_arm else "—"
                              for arm in COST_BASELINES)))
    return rows


def figures_of(cells: Sequence[Cell], method: str) -> list[Figure]:
    completed: dict[str, FigureCell] = {c.arm: round(c.completed_per_s, 1) for c in cells}
    main: dict[str, FigureCell] = {c.arm: round(c.redis_main * 100, 1) for c in cells}
    return [*versus("ceiling: completed no-op tasks/s, one Redis saturated", "tasks/s", method,
                    completed, COST_BASELINES, higher_is_better=True),
            *versus("ceiling: Redis main-thread CPU in that window, % of one core", "%", method,
                    main, COST_BASELINES)]


def run(args: argparse.Namespace) -> int:
    if args.seconds <= 0 or min(args.producers, args.workers, args.concurrency) < 1:
        raise SystemExit("--seconds must be > 0; --producers, --workers, --concurrency >= 1")
    if args.cells:
        return cell_ceiling.run(args)
    topology = Topology(args.producers, args.workers, args.concurrency)
    arms: list[str] = args.arm or list(COST_ARMS)
    began = now_utc()
    binary = server_binary(args.server)
    cells: list[Cell] = []
    machine: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="relier-bench-ceiling-") as tmp:
        for arm in arms:
            cell, described = measure(arm, Path(tmp) / arm, binary, topology,
                                      seconds=args.seconds, timeout=120.0)
            cells.append(cell)
            machine = machine or described

    cores = os.cpu_count()
    cpu = ("used_cpu_sys_main_thread + used_cpu_user_main_thread"
           if all(c.cpu_source == MAIN_THREAD for c in cells)
           else "used_cpu_sys + used_cpu_user (no main-thread fields on this server)")
    method = (f"{topology.text()} per arm, on a fresh {server_label(machine)} (loopback, AOF "
              f"everysec), {cores} cores shared by all of them; producers push no-op tasks as "
              f"fast as they can (relier push(), vanilla+backend delay(), vanilla send_task()); "
              f"a {args.seconds:g} s window once every producer pushed and "
              f"{WARM_PER_PROCESS} successes per pool process were logged: completed = "
              f"workers' log `succeeded` lines stamped in the window / its length; Redis "
              f"main-thread CPU = INFO cpu {cpu} delta / wall time")
    figures = figures_of(cells, method)
    tables: list[Table] = [
        table("one Redis saturated, per arm", f"{method}; pushed = producer pushes returned in "
              "the window; CPU columns = share of one core over the window from /proc/<pid>/stat "
              "(server process, workers with their pool processes, producers); cores busy = "
              "/proc/stat, all cores",
              ("arm", "completed/s", "pushed/s", "completed", "Redis main thread",
               "Redis process", "workers", "producers", "cores busy", "saturated first"),
              cell_rows(cells, cores)),
        table("ratios: relier ÷ each vanilla arm", "the figures above",
              ("figure", *(f"relier ÷ {arm}" for arm in COST_BASELINES)), ratio_rows(cells)),
    ]
    notes = [
        f"{cores} cores: the producers, the workers, the benchmark process and Redis all run "
        "on them. When the cores are busy and the Redis main thread is not near 100%, the "
        "machine saturated first and the completed rate is the machine's ceiling for this "
        "topology, not Redis's; a larger machine (or producers and workers elsewhere) is needed "
        "to find Redis's.",
        "Completed counts only tasks whose success line is stamped inside the window; pushed "
        "above completed means the queue grew (the workers were the limit).",
    ]
    publish(NAME, args.json_out, began,
            [f"ceiling: one Redis saturated ({machine_summary(machine)})",
             format_text(figures, tables)],
            description="completed no-op tasks/s with producers and workers saturating one "
                        "Redis, and what saturated first: relier beside vanilla Celery with a "
                        "Redis result backend and with its defaults",
            config={"seconds": args.seconds, **asdict(topology), "arms": arms, "cores": cores},
            machine=machine, figures=figures, tables=tables, notes=notes,
            cells=[{**asdict(c), "completed_per_s": c.completed_per_s,
                    "pushed_per_s": c.pushed_per_s,
                    "saturated_first": bottleneck(c.redis_main, c.machine_busy, cores)}
                   for c in cells])
    return 0


BENCHMARK = Benchmark(
    name=NAME,
    help="completed tasks/s with producers and workers saturating one Redis, and whether the "
         "Redis main thread or the machine saturated first: relier vs vanilla Celery",
    add_arguments=add_arguments,
    run=run,
    scale={"seconds": 30.0},
    results=(cell_ceiling.NAME,),
)
