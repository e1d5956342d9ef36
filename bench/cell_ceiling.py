"""``python -m bench ceiling --cells 1,2,3``: relier's ceiling across 1, 2, 3... cells, so the
scaling factor of adding a cell is measured, not assumed.

For each cell count n, on n fresh Redis-compatible servers (`bench.servers`: loopback, AOF
everysec, noeviction), each pinned to its own core while the machine has one to spare
(`bench.affinity`; with more servers than cores they share, and the report says so):

- producers: ``--producers`` per cell (n x P processes), each with relier bound to every cell
  (``Relier(app, cells=...)``, what ``RELIER_CELLS`` gives), pushing no-op tasks flat out with
  ``push()``: each push is placed by its generated id (``<cell>~<uuid>``, rendezvous hashing),
  and reports the cell it went to;
- workers: ``--workers`` per cell, each ``RELIER_CELL=<its cell>`` (so it consumes that cell's
  Redis), prefork ``-c --concurrency``;
- a window of S seconds once every producer pushed and every cell's workers logged their
  first successes: completed tasks/s in all and per cell (workers' ``succeeded`` lines stamped
  in the window), pushed per cell (producer pushes that returned in it), each Redis main
  thread's CPU (``INFO cpu`` deltas, `bench.server_stats`), the machine's cores
  (`bench.machine_cpu`), and what saturated first (`bench.saturation.bottleneck`).

The client topology per cell is the same for every n: adding a cell adds its load and its
clients, as adding a cell does in production. On a machine where producers, workers and every
server share a few cores, the machine, not Redis, bounds the factor; the Redis CPU per task
tells what one cell carries on a dedicated core (derived, not measured).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.affinity import Pinning, available_cores, describe_pinning, pin, plan_cores
from bench.apps.noop_tasks import make_app
from bench.figures import Figure, Table, format_number, format_text, table
from bench.machine_cpu import busy_fraction, machine_times, process_cpu_s, processes_cpu_s
from bench.noop_arms import started
from bench.result_files import machine_summary, now_utc, publish, server_label
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
from bench.server_stats import MAIN_THREAD, Snapshot, snapshot
from bench.servers import describe_machine, running_server
from bench.worker_log import WorkerLog
from bench.workers import bench_worker
from relier.testing import server_binary, wait_until

#: The result file's name (``bench/results/ceiling-cells-latest.json``).
NAME = "ceiling-cells"
COMMAND = "python -m bench ceiling --cells 1,2,3"
#: The most cells one run starts (each is a server, its workers and its producers).
MAX_CELLS = 8
#: Cell names, in order: n cells are the first n.
CELL_NAMES = tuple(f"cell{index}" for index in range(1, MAX_CELLS + 1))
#: The Redis main-thread utilisation a cell is sized to at peak (headroom for bursts, AOF
#: rewrites, failover catch-up and the resurrector's scans).
HEADROOM = 0.5


def parse_cell_counts(text: str) -> tuple[int, ...]:
    """``1,2,3`` as (1, 2, 3): distinct cell counts from 1 to `MAX_CELLS`, ascending."""
    try:
        counts = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of cell "
                                         "counts (e.g. 1,2,3)") from None
    if not counts or counts[0] < 1 or counts[-1] > MAX_CELLS:
        raise argparse.ArgumentTypeError(f"cell counts must be 1 to {MAX_CELLS}, got {text!r}")
    return tuple(counts)


def cells_pusher(cells: tuple[tuple[str, str], ...]) -> Callable[[], str]:
    """relier's no-op push placed across `cells` (name, URL); returns the cell it went to (a
    `bench.saturation.PusherFactory` with its argument)."""
    noop = make_app(cells[0][1], cells=dict(cells)).noop
    return lambda: noop.push().cell


@dataclass(frozen=True, slots=True)
class CellWindow:
    """One cell over the window: its core, its tasks, its Redis's CPU seconds."""

    cell: str
    core: int
    is_pinned: bool
    completed: int
    pushed: int
    redis_main_s: float
    redis_process_s: float | None

    def redis_main(self, seconds: float) -> float:
        """The main thread's utilisation (1.0: one core all the time)."""
        return self.redis_main_s / seconds


@dataclass(frozen=True, slots=True)
class CellsRun:
    """One cell count's window: every cell, and the machine around them."""

    count: int
    seconds: float
    cells: tuple[CellWindow, ...]
    pinning: str
    cpu_source: str
    workers_cpu: float | None
    producers_cpu: float | None
    machine_busy: float | None

    @property
    def completed_per_s(self) -> float:
        return sum(c.completed for c in self.cells) / self.seconds

    @property
    def pushed_per_s(self) -> float:
        return sum(c.pushed for c in self.cells) / self.seconds

    @property
    def busiest_redis(self) -> float:
        return max(c.redis_main(self.seconds) for c in self.cells)


def cpu_per_task_us(cpu_s: float, pushed: int, completed: int) -> tuple[float, float] | None:
    """Redis CPU per task lifecycle, bounded, in µs: (low, high).

    The window's CPU paid for `pushed` pushes and `completed` runs: when more were pushed than
    completed (the queue grew), CPU per completed task counts some pushes twice and is the
    high bound, CPU per pushed task the low one; the other way round when the queue shrank.
    None without a task.
    """
    fewer, more = sorted((pushed, completed))
    if fewer < 1:
        return None
    return cpu_s / more * 1e6, cpu_s / fewer * 1e6


def derived_ceiling(cpu_us: float, utilisation: float = 1.0) -> float:
    """Tasks/s one Redis main thread carries at `utilisation` of a core, at `cpu_us` per task
    (derived: 1 / CPU per task, nothing else limiting)."""
    return utilisation / (cpu_us / 1e6)


def scaling_factors(rates: Mapping[int, float]) -> dict[int, float | None]:
    """tasks/s(n) / tasks/s(smallest n measured, normally 1), per cell count n."""
    if not rates:
        return {}
    base = rates[min(rates)]
    return {n: (rate / base if base > 0 else None) for n, rate in sorted(rates.items())}


def factor_text(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}x"


def bounds_text(bounds: tuple[float, float] | None) -> str:
    if bounds is None:
        return "—"
    low, high = bounds
    return f"{format_number(low)} to {format_number(high)}"


def count_rows(runs: Sequence[CellsRun], cores: int | None) -> list[tuple[str, ...]]:
    """The per-cell-count table: totals, the factor, what saturated first."""
    factors = scaling_factors({run.count: run.completed_per_s for run in runs})
    return [(str(run.count), run.pinning, f"{run.completed_per_s:,.0f}",
             f"{run.pushed_per_s:,.0f}", factor_text(factors[run.count]),
             percent(run.busiest_redis), percent(run.workers_cpu), percent(run.producers_cpu),
             percent(run.machine_busy), bottleneck(run.busiest_redis, run.machine_busy, cores))
            for run in runs]


def cell_rows(runs: Sequence[CellsRun]) -> list[tuple[str, ...]]:
    """The per-cell table: each cell's rates, Redis CPU and the ceiling derived from it."""
    rows: list[tuple[str, ...]] = []
    for run in runs:
        for cell in run.cells:
            bounds = cpu_per_task_us(cell.redis_main_s, cell.pushed, cell.completed)
            high = None if bounds is None else bounds[1]
            rows.append((
                str(run.count), cell.cell,
                str(cell.core) + ("" if cell.is_pinned else " (not pinned)"),
                f"{cell.completed / run.seconds:,.0f}", f"{cell.pushed / run.seconds:,.0f}",
                percent(cell.redis_main(run.seconds)), bounds_text(bounds),
                "—" if high is None else f"{derived_ceiling(high):,.0f}",
                "—" if high is None else f"{derived_ceiling(high, HEADROOM):,.0f}"))
    return rows


def conservative_cpu_us(runs: Sequence[CellsRun]) -> float | None:
    """The highest per-task bound of the cells of the smallest cell count (the most CPU per
    task: the sizing rule should not flatter)."""
    if not runs:
        return None
    base = min(runs, key=lambda run: run.count)
    highs = [bounds[1] for cell in base.cells
             if (bounds := cpu_per_task_us(cell.redis_main_s, cell.pushed, cell.completed))]
    return max(highs) if highs else None


def figures_of(runs: Sequence[CellsRun], method: str) -> list[Figure]:
    """Completed tasks/s per cell count, the scaling factors, the Redis CPU per task and the
    one-cell ceiling derived from it."""
    factors = scaling_factors({run.count: run.completed_per_s for run in runs})
    base = min((run.count for run in runs), default=1)
    figures = [Figure(name=f"ceiling across cells: completed no-op tasks/s, {run.count} "
                           f"cell{'s' if run.count > 1 else ''}",
                      unit="tasks/s", method=method, relier=round(run.completed_per_s, 1),
                      higher_is_better=True) for run in runs]
    figures += [Figure(name=f"scaling factor: tasks/s with {n} cells ÷ with {base}", unit="x",
                       method="measured: the completed rates above", relier=factor,
                       higher_is_better=True)
                for n, factor in factors.items() if n != base]
    cpu = conservative_cpu_us(runs)
    if cpu is not None:
        figures += [
            Figure(name=f"Redis main-thread CPU per task lifecycle, {base} cell"
                        f"{'s' if base > 1 else ''} saturated (high bound)",
                   unit="µs", method="INFO cpu main-thread delta / the fewer of the cell's "
                                     "pushes and completions in the window", relier=cpu),
            Figure(name=f"derived: tasks/s one cell carries at {HEADROOM:.0%} of a dedicated "
                        "core", unit="tasks/s",
                   method=f"derived, not measured: {HEADROOM:g} / Redis CPU per task (high "
                          "bound)", relier=round(derived_ceiling(cpu, HEADROOM), 1),
                   higher_is_better=True),
        ]
    return figures


def _warmed(logs: Sequence[WorkerLog], warm: int) -> bool:
    return successes(logs) >= warm


def _open_window(clients: Mapping[str, Any]) -> dict[str, Snapshot]:
    return {name: snapshot(client) for name, client in clients.items()}


def measure(count: int, directory: Path, binary: Path, topology: Topology, *, seconds: float,
            timeout: float) -> tuple[CellsRun, dict[str, Any]]:
    """`count` cells, their servers pinned, workers per cell, producers across all; one window."""
    names = CELL_NAMES[:count]
    cores = available_cores()
    with contextlib.ExitStack() as stack:
        servers = {name: stack.enter_context(running_server(directory / name, binary))
                   for name in names}
        clients = {name: server.client() for name, server in servers.items()}
        for client in clients.values():
            stack.callback(client.close)
        machine = describe_machine(clients[names[0]], binary)
        server_pids = {name: server.process.pid for name, server in servers.items()
                       if server.process is not None}
        pinnings: list[Pinning] = [pin(server_pids[name], core)
                                   for name, core in zip(names, plan_cores(count, cores),
                                                         strict=True)]
        cells = tuple((name, servers[name].url) for name in names)
        cells_env = ",".join(f"{name}={url}" for name, url in cells)
        logs = {name: [WorkerLog(directory / f"{name}-worker-{index}.log")
                       for index in range(topology.workers)] for name in names}
        workers = [stack.enter_context(started(
            bench_worker("noop_worker.app", servers[name].url, log.path,
                         concurrency=topology.concurrency,
                         env={"RELIER_CELLS": cells_env, "RELIER_CELL": name}), ready=False))
            for name in names for log in logs[name]]
        for worker in workers:
            worker.wait_ready(timeout)
        producers = stack.enter_context(producing(functools.partial(cells_pusher, cells),
                                                  topology.producers * count))
        producers.wait_ready(timeout)
        warm = WARM_PER_PROCESS * topology.pool_processes
        for name in names:
            wait_until(functools.partial(_warmed, logs[name], warm), timeout=timeout,
                       message=f"{name}: {warm} successes not logged")
        pids = worker_pids(workers)

        def process_times() -> tuple[dict[str, float | None], float, float]:
            return ({name: process_cpu_s(pid) for name, pid in server_pids.items()},
                    processes_cpu_s(pids), processes_cpu_s(producers.pids))

        began, first, cores_first, times_first = (time.time(), _open_window(clients),
                                                  machine_times(), process_times())
        time.sleep(seconds)  # the measured window itself
        ended, last, cores_last, times_last = (time.time(), _open_window(clients),
                                               machine_times(), process_times())
        every_log = [log for name in names for log in logs[name]]
        wait_until(lambda: log_caught_up(every_log, ended), timeout=timeout,
                   message=f"{count} cells: worker logs not past the window's end")
        stamps = producers.finish(timeout)
    wall = ended - began

    def redis_process_s(name: str) -> float | None:
        start, end = times_first[0].get(name), times_last[0].get(name)
        return None if start is None or end is None else end - start

    windows = tuple(
        CellWindow(cell=name, core=pinning.core, is_pinned=pinning.is_pinned,
                   completed=sum(1 for log in logs[name] for at in log.successes
                                 if began <= at < ended),
                   pushed=pushes_within(stamps.get(name, []), began, ended),
                   redis_main_s=last[name].cpu_s - first[name].cpu_s,
                   redis_process_s=redis_process_s(name))
        for name, pinning in zip(names, pinnings, strict=True))
    run = CellsRun(
        count=count, seconds=wall, cells=windows,
        pinning=describe_pinning(names, pinnings, cores),
        cpu_source=last[names[0]].cpu_source,
        workers_cpu=(times_last[1] - times_first[1]) / wall,
        producers_cpu=(times_last[2] - times_first[2]) / wall,
        machine_busy=(None if cores_first is None or cores_last is None
                      else busy_fraction(cores_first, cores_last)))
    return run, machine


def method_text(topology: Topology, counts: Sequence[int], seconds: float,
                machine: Mapping[str, Any], *, cores: int | None, cpu_source: str) -> str:
    cpu = ("used_cpu_sys_main_thread + used_cpu_user_main_thread" if cpu_source == MAIN_THREAD
           else "used_cpu_sys + used_cpu_user (no main-thread fields on this server)")
    return (f"for each cell count n in {', '.join(map(str, counts))}: n fresh "
            f"{server_label(machine)} servers (loopback, AOF everysec, noeviction), each "
            f"pinned to its own core while there is one (sched_setaffinity on every thread); "
            f"per cell {topology.text()} (workers with RELIER_CELL, producers relier push() "
            f"across every cell with Relier(app, cells=...), placed by the generated id); "
            f"producers and workers unpinned, {cores} cores shared by everything; a "
            f"{seconds:g} s window once every producer pushed and every cell's workers logged "
            f"{WARM_PER_PROCESS} successes per pool process: completed = workers' `succeeded` "
            f"lines stamped in the window / its length; Redis main thread = INFO cpu {cpu} "
            f"delta / wall time")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--cells``: the cell counts (the other ceiling options then count per cell)."""
    parser.add_argument(
        "--cells", type=parse_cell_counts, default=None, metavar="N,N,...",
        help="run relier across this many cells instead of the one-Redis arms (e.g. 1,2,3): "
             "the scaling factor; --producers, --workers and --concurrency then count per "
             f"cell; result in bench/results/{NAME}-latest.json")


def run(args: argparse.Namespace) -> int:
    """Measure each cell count in `args.cells`, then publish (`NAME`)."""
    if args.arm:
        raise SystemExit("--cells measures relier only: leave --arm out")
    topology = Topology(args.producers, args.workers, args.concurrency)
    counts: tuple[int, ...] = args.cells
    began = now_utc()
    binary = server_binary(args.server)
    runs: list[CellsRun] = []
    machine: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="relier-bench-cells-") as tmp:
        for count in counts:
            print(f"-- {count} cell{'s' if count > 1 else ''}", flush=True)
            run_, described = measure(count, Path(tmp) / f"cells-{count}", binary, topology,
                                      seconds=args.seconds, timeout=180.0)
            runs.append(run_)
            machine = machine or described
    publish_runs(runs, topology, args.seconds, machine, began=began, json_out=args.json_out)
    return 0


def publish_runs(runs: Sequence[CellsRun], topology: Topology, seconds: float,
                 machine: Mapping[str, Any], *, began: Any, json_out: Path | None) -> None:
    cores = os.cpu_count()
    method = method_text(topology, [run.count for run in runs], seconds, machine, cores=cores,
                         cpu_source=runs[0].cpu_source)
    tables: list[Table] = [
        table("tasks/s per cell count", f"{method}; scaling factor = completed/s ÷ completed/s "
              "of the smallest count (measured); Redis main thread = the busiest cell's; "
              "workers, producers = share of one core from /proc/<pid>/stat; cores busy = "
              "/proc/stat, all cores",
              ("cells", "servers on cores", "completed/s", "pushed/s", "scaling factor",
               "busiest Redis main thread", "workers", "producers", "cores busy",
               "saturated first"), count_rows(runs, cores)),
        table("per cell", "as above; Redis CPU per task = the cell's main-thread CPU over the "
              "window ÷ its pushes and ÷ its completions (the lifecycle's cost lies between); "
              f"derived ceilings (not measured) = 1 ÷ the high bound, and {HEADROOM:g} ÷ it "
              f"(the main thread kept at {HEADROOM:.0%})",
              ("cells", "cell", "core", "completed/s", "pushed/s", "Redis main thread",
               "Redis CPU µs per task", "derived tasks/s at 100%",
               f"derived tasks/s at {HEADROOM:.0%}"), cell_rows(runs)),
    ]
    figures = figures_of(runs, method)
    load = machine.get("load_average")
    notes = [
        f"{cores} cores: with n cells, n Redis servers, n x {topology.producers} producers and "
        f"n x {topology.workers} workers (x -c {topology.concurrency}) share them; with more "
        "servers than cores the servers share cores too. The scaling factor is what this "
        "machine gave, bounded by its cores (see saturated first), not what n dedicated Redis "
        "hosts give.",
        "Each Redis main thread's CPU per task says what one cell carries where its Redis has a "
        "core of its own and its clients run elsewhere: tasks/s per cell ≈ 1 ÷ Redis CPU per "
        "task at saturation (derived, not measured); cells share nothing, so n such cells "
        "carry about n times that.",
        f"Load average when the run began: {', '.join(map(str, load)) if load else '?'} (the "
        "machine is shared; other processes took cores too).",
    ]
    factors = scaling_factors({run.count: run.completed_per_s for run in runs})
    cpu = conservative_cpu_us(runs)
    publish(NAME, json_out, began,
            [f"ceiling across cells ({machine_summary(machine)})", format_text(figures, tables)],
            description="relier's completed no-op tasks/s across 1, 2, 3... cells (a Redis each, "
                        "pinned to a core where the machine allows), the measured scaling "
                        "factor, and each Redis's CPU per task",
            config={"seconds": seconds, **asdict(topology), "per": "cell",
                    "cells": [run.count for run in runs], "cores": cores,
                    "headroom": HEADROOM},
            machine=machine, figures=figures, tables=tables, notes=notes, command=COMMAND,
            scaling_factors={str(n): f for n, f in factors.items()},
            redis_cpu_per_task_us_high=cpu,
            derived_cell_tasks_per_s={"at_100": None if cpu is None else derived_ceiling(cpu),
                                      f"at_{HEADROOM * 100:.0f}": None if cpu is None
                                      else derived_ceiling(cpu, HEADROOM)},
            runs=[{**asdict(run), "completed_per_s": run.completed_per_s,
                   "pushed_per_s": run.pushed_per_s,
                   "saturated_first": bottleneck(run.busiest_redis, run.machine_busy, cores)}
                  for run in runs])
