"""Leases at scale: what lease refreshing costs Redis, and recovery of many tasks at once.

Every figure comes from real ``celery worker`` processes on a Redis-compatible server started
for the run on loopback (a fresh server per part); nothing is simulated.

1. refresh cost: one relier worker (``-P threads -c N``) runs N tasks that sleep, so N tasks
   are inflight at once. Once all N bodies have started (and a settle delay has passed), no
   task starts or finishes for the measured window; the delta of ``INFO commandstats`` over
   the window is then lease refreshing plus the worker's idle broker traffic. ``evalsha``
   calls are the refresh script's round trips (the only script run while nothing starts or
   finishes); commands run inside it (``time``, ``zadd``, ``zscore``) are counted by Redis too and
   reported with them. Measured for N=10 and N=1,000 with the default lease settings.
2. mass recovery: 25 tasks run on worker A (prefork ``-c 25``); worker B (prefork ``-c 25``,
   idle) and a resurrector (``rl run-resurrector``) run with ``RELIER_LEASE_TTL=2``,
   ``RELIER_LEASE_REFRESH_INTERVAL=0.5``, ``RELIER_RESURRECTOR_INTERVAL=0.2``. A is killed as
   a process group (SIGKILL); per task, timed from ``time.time()`` just before ``os.killpg``
   to ``time.time()`` at the body start of attempt 2. Executions and completions are counted
   in Redis per task id.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import tempfile
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import redis

from bench import Benchmark
from bench.apps.lease_tasks import make_app
from bench.figures import Figure, Table, stats_table, table
from bench.options import add_check_option, add_number, add_output_options
from bench.redis_state import attempt_start, counter
from bench.report import Row, column_formatter, format_table, summarize
from bench.result_files import Target, machine_summary, now_utc, publish, server_label
from bench.servers import connected_server, probe_machine, running_server
from bench.workers import bench_worker, resurrector
from relier.procinfo import parent_pid
from relier.testing import FAST_LEASES, CeleryWorker, server_binary, wait_until

NAME = "leases"
#: Target: refresh commands/s with 1,000 tasks inflight at most this times the cost with 10.
TARGET_RATIO = 1.5
#: Commands the benchmark itself sends during a window (its INFO snapshots).
_OWN_COMMANDS = frozenset({"info"})


@dataclass(frozen=True, slots=True)
class RefreshCost:
    """Redis commands during a quiet window with `inflight` tasks held by one worker."""

    inflight: int
    pool: str
    refresh_interval_s: float
    window_s: float
    evalsha_per_s: float
    evalsha_usec_per_s: float
    script_inner_per_s: float
    refresh_commands_per_s: float
    other_commands_per_s: float
    started_during_window: int
    fill_s: float
    delta: dict[str, int]


@dataclass(frozen=True, slots=True)
class MassRecovery:
    """How a whole-worker kill with `tasks` running ended."""

    tasks: int
    delivered: int
    resumed: int
    duplicate_completions: int
    extra_executions: int
    latencies_ns: list[int]


def _worker(url: str, log_path: Path, *, pool: str, concurrency: int,
            env: Mapping[str, str] | None = None) -> CeleryWorker:
    return bench_worker("lease_worker.app", url, log_path, pool=pool,
                        concurrency=concurrency, env=env)


def _commandstats(client: redis.Redis) -> dict[str, tuple[int, int]]:
    """Command name -> (calls, usec) from ``INFO commandstats``."""
    raw: dict[str, Any] = client.info("commandstats")
    return {name.removeprefix("cmdstat_"): (int(stat["calls"]), int(stat["usec"]))
            for name, stat in raw.items()}


def refresh_cost(binary: Path, parent: Path, inflight: int, *, window: float, settle: float,
                 interval: float, fill_timeout: float) -> RefreshCost:
    """Commands/s over a quiet `window` with `inflight` tasks held by a threads worker."""
    with connected_server(parent / f"refresh-{inflight}", binary) as (server, client):
        worker: CeleryWorker | None = None
        try:
            bound = make_app(server.url)
            env = {"RELIER_LEASE_REFRESH_INTERVAL": f"{interval:g}",
                   "RELIER_LEASE_TTL": f"{max(5.0, interval * 5):g}"}
            worker = _worker(server.url, parent / f"refresh-{inflight}.log", pool="threads",
                             concurrency=inflight, env=env).start().wait_ready()
            # Held far longer than the run: no body finishes before the worker is killed.
            hold = window + settle + fill_timeout + 600
            began = time.monotonic()
            for _ in range(inflight):
                bound.inflight.push(hold)
            wait_until(lambda: counter(client, "bench:leases:started") >= inflight,
                       timeout=fill_timeout, interval=0.05,
                       message=lambda: f"only {counter(client, 'bench:leases:started')} of "
                                       f"{inflight} tasks started")
            fill = time.monotonic() - began
            time.sleep(settle)
            started_before = counter(client, "bench:leases:started")
            before = _commandstats(client)
            window_began = time.monotonic()
            time.sleep(window)
            after = _commandstats(client)
            measured = time.monotonic() - window_began
            started_during = counter(client, "bench:leases:started") - started_before
        finally:
            if worker is not None:
                worker.kill()
    delta = {name: calls - before.get(name, (0, 0))[0]
             for name, (calls, _) in after.items()
             if name not in _OWN_COMMANDS and calls - before.get(name, (0, 0))[0] > 0}
    usec = after.get("evalsha", (0, 0))[1] - before.get("evalsha", (0, 0))[1]
    evalsha = delta.get("evalsha", 0)
    # The refresh script calls TIME (now_ms) and ZADD, ZSCORE for missing leases.
    inner = sum(delta.get(name, 0) for name in ("time", "zadd", "zscore"))
    total = sum(delta.values())
    return RefreshCost(
        inflight=inflight, pool="threads", refresh_interval_s=interval,
        window_s=round(measured, 3),
        evalsha_per_s=evalsha / measured,
        evalsha_usec_per_s=usec / measured,
        script_inner_per_s=inner / measured,
        refresh_commands_per_s=(evalsha + inner) / measured,
        other_commands_per_s=(total - evalsha - inner) / measured,
        started_during_window=started_during,
        fill_s=round(fill, 3),
        delta=delta,
    )


def _all_started(client: redis.Redis, ids: list[str]) -> list[tuple[int, float]] | None:
    found = [attempt_start(client, task_id, 1) for task_id in ids]
    present = [start for start in found if start is not None]
    return present if len(present) == len(ids) else None


def mass_recovery(binary: Path, parent: Path, tasks: int, *, timeout: float,
                  settle: float) -> MassRecovery:
    """Kill a worker running `tasks` tasks; time each task's attempt 2 on the other worker."""
    with running_server(parent / "mass-recovery", binary) as server:
        return _mass_recovery_on(server.url, parent, tasks, timeout=timeout, settle=settle)


def _mass_recovery_on(url: str, parent: Path, tasks: int, *, timeout: float,
                      settle: float) -> MassRecovery:
    client = redis.Redis.from_url(url)
    workers: list[CeleryWorker] = []
    try:
        bound = make_app(url)
        victim = _worker(url, parent / "mass-a.log", pool="prefork",
                         concurrency=tasks, env=FAST_LEASES).start()
        workers.append(victim)
        victim.wait_ready()
        with resurrector(url, parent / "mass-resurrector.log", FAST_LEASES):
            ids = [str(bound.killed.push(600).id) for _ in range(tasks)]
            firsts = wait_until(
                lambda: _all_started(client, ids),
                timeout=timeout, interval=0.05,
                message=lambda: f"not all {tasks} first attempts started on worker A")
            parents = {parent_pid(pid) for pid, _ in firsts if pid}
            if parents != {victim.pid}:
                raise RuntimeError(f"first attempts ran outside worker A: {parents}")
            replacement = _worker(url, parent / "mass-b.log", pool="prefork",
                                  concurrency=tasks, env=FAST_LEASES).start()
            workers.append(replacement)
            replacement.wait_ready()
            killed_at = time.time()
            os.killpg(victim.pid, signal.SIGKILL)
            seconds: dict[str, float] = {}
            deadline = time.monotonic() + timeout
            while len(seconds) < tasks and time.monotonic() < deadline:
                for task_id in ids:
                    if task_id not in seconds:
                        second = attempt_start(client, task_id, 2)
                        if second is not None:
                            seconds[task_id] = second[1]
                time.sleep(0.01)
            for task_id in ids:
                with contextlib.suppress(TimeoutError):
                    _wait_done(client, task_id, deadline)
            time.sleep(settle)  # late duplicates, if any, would land here
            done = [counter(client, f"bench:done:{task_id}") for task_id in ids]
            execs = [counter(client, f"bench:exec:{task_id}") for task_id in ids]
            delivered = sum(1 for count in done if count > 0)
    finally:
        for worker in workers:
            worker.kill()
        client.close()
    return MassRecovery(
        tasks=tasks, delivered=delivered, resumed=len(seconds),
        duplicate_completions=sum(1 for count in done if count > 1),
        extra_executions=sum(max(count - 2, 0) for count in execs),
        latencies_ns=[round((started - killed_at) * 1e9) for started in seconds.values()],
    )


def _wait_done(client: redis.Redis, task_id: str, deadline: float) -> int:
    while time.monotonic() < deadline:
        count = counter(client, f"bench:done:{task_id}")
        if count:
            return count
        time.sleep(0.02)
    raise TimeoutError(task_id)


def format_costs(title: str, method: str, costs: list[RefreshCost]) -> str:
    headers = ("inflight", "evalsha/s", "in-script cmds/s", "refresh cmds/s", "evalsha usec/s",
               "other cmds/s", "ratio")
    base = costs[0].refresh_commands_per_s if costs else 0.0
    body = [(f"{c.inflight:,}", f"{c.evalsha_per_s:.2f}", f"{c.script_inner_per_s:.2f}",
             f"{c.refresh_commands_per_s:.2f}", f"{c.evalsha_usec_per_s:.1f}",
             f"{c.other_commands_per_s:.2f}",
             f"{c.refresh_commands_per_s / base:.2f}x" if base else "")
            for c in costs]
    line = column_formatter([headers, *body])
    return "\n".join([title, f"[refresh cost] {method}", line(headers), *map(line, body)])


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--inflight", type=int, action="append", default=None,
                        help="tasks inflight for a refresh-cost measurement (repeatable; "
                             "default: 10 and 1000)")
    add_number(parser, "--window", 10.0, "quiet window over which commands are counted, s")
    add_number(parser, "--settle", 2.0, "wait after the last task started before the window, s")
    parser.add_argument("--refresh-interval", type=float, default=1.0,
                        help="RELIER_LEASE_REFRESH_INTERVAL for the refresh-cost worker "
                             "(default: 1, relier's default)")
    add_number(parser, "--tasks", 25, "tasks running on the killed worker")
    parser.add_argument("--skip", choices=("cost", "recovery"), action="append", default=[],
                        help="skip a part (repeatable)")
    add_output_options(parser, NAME)
    add_check_option(parser, "the refresh cost ratio exceeds 1.5x or the mass recovery loses or "
                             "duplicates a task")


def figures_and_tables(costs: list[RefreshCost], cost_method: str, rows: list[Row],
                       recovery: MassRecovery | None) -> tuple[list[Figure], list[Table]]:
    """The page's figures (relier only: vanilla Celery has no leases) and tables."""
    figures = [Figure(f"lease refresh: Redis commands/s, {cost.inflight:,} tasks inflight",
                      "commands/s", cost_method, relier=round(cost.refresh_commands_per_s, 2))
               for cost in costs]
    tables: list[Table] = []
    if costs:
        base = costs[0].refresh_commands_per_s
        tables.append(table(
            "lease-refresh cost", cost_method,
            ("inflight", "EVALSHA/s", "in-script commands/s", "refresh commands/s",
             "ratio to first", "other commands/s"),
            [(f"{c.inflight:,}", f"{c.evalsha_per_s:.2f}", f"{c.script_inner_per_s:.2f}",
              f"{c.refresh_commands_per_s:.2f}",
              f"{c.refresh_commands_per_s / base:.2f}x" if base else "—",
              f"{c.other_commands_per_s:.2f}") for c in costs]))
    if recovery is not None and rows:
        row = rows[0]
        figures += [
            Figure(f"mass recovery: {recovery.tasks} tasks killed with their worker -> re-run, "
                   "p99", "s", row.method, relier=round(row.stats.p99_ns / 1e9, 3)),
            Figure(f"mass recovery: tasks delivered of {recovery.tasks}", "tasks", row.method,
                   relier=recovery.delivered),
        ]
        tables += [
            stats_table("mass recovery: kill -> start of attempt 2", rows, "s",
                        count_label="tasks"),
            table("mass recovery: outcome", row.method,
                  ("tasks", "attempt 2 started", "delivered", "duplicate completions",
                   "extra executions"),
                  [(recovery.tasks, recovery.resumed, recovery.delivered,
                    recovery.duplicate_completions, recovery.extra_executions)]),
        ]
    return figures, tables


def run(args: argparse.Namespace) -> int:
    inflights: list[int] = args.inflight or [10, 1000]
    if min(*inflights, args.tasks) < 1 or args.window <= 0:
        raise SystemExit("--inflight and --tasks must be >= 1, --window > 0")
    started = now_utc()
    binary = server_binary(args.server)
    costs: list[RefreshCost] = []
    recovery: MassRecovery | None = None
    with tempfile.TemporaryDirectory(prefix="relier-bench-leases-") as tmp:
        parent = Path(tmp)
        with running_server(parent / "probe", binary) as probe:
            machine = probe_machine(probe, binary)
        if "cost" not in args.skip:
            for inflight in inflights:
                costs.append(refresh_cost(
                    binary, parent, inflight, window=args.window, settle=args.settle,
                    interval=args.refresh_interval, fill_timeout=max(60.0, inflight * 0.2)))
        if "recovery" not in args.skip:
            recovery = mass_recovery(binary, parent, args.tasks, timeout=60.0, settle=2.0)

    label = server_label(machine)
    cost_method = (
        f"one worker -P threads -c N holding N sleeping tasks (all bodies started, then "
        f"{args.settle:g} s settle); INFO commandstats delta over a {args.window:g} s window in "
        f"which no task starts or finishes, per second; refresh cmds = evalsha (the refresh "
        f"script, the only script run in the window) + time/zadd/zscore run inside it; other = "
        f"every other command (broker polling), the benchmark's INFO excluded; "
        f"RELIER_LEASE_REFRESH_INTERVAL={args.refresh_interval:g}; {label} on loopback"
    )
    ratio: float | None = None
    if len(costs) >= 2 and costs[0].refresh_commands_per_s > 0:
        ratio = costs[-1].refresh_commands_per_s / costs[0].refresh_commands_per_s
    rows: list[Row] = []
    recovery_method = (
        f"{args.tasks} tasks running on worker A (prefork -c {args.tasks}); worker B (prefork "
        f"-c {args.tasks}) idle and a resurrector running; lease TTL 2 s, refresh 0.5 s, "
        "resurrector interval 0.2 s; killpg(A, SIGKILL); per task, time.time() just before the "
        f"kill to time.time() at the start of attempt 2's body; {label} on loopback"
    )
    if recovery is not None and recovery.latencies_ns:
        rows.append(Row("mass recovery", f"relier, {args.tasks} tasks, worker killpg SIGKILL",
                        recovery_method, summarize(recovery.latencies_ns)))
    recovery_ok = recovery is None or (
        recovery.delivered == recovery.tasks and recovery.duplicate_completions == 0)
    figures, tables = figures_and_tables(costs, cost_method, rows, recovery)
    target = Target(f"refresh commands/s with {inflights[-1]} inflight <= {TARGET_RATIO:g}x those "
                    f"with {inflights[0]}", None if ratio is None else ratio <= TARGET_RATIO,
                    {"max_ratio": TARGET_RATIO, "measured_ratio": ratio})
    report = _report_lines(machine, inflights=inflights, costs=costs, cost_method=cost_method,
                           target=target, ratio=ratio, rows=rows, recovery=recovery)
    publish(NAME, args.json_out, started, report,
            description="Redis cost of lease refreshing vs tasks inflight; recovery latency of "
                        "many tasks killed at once",
            config={"inflight": inflights, "window_s": args.window, "settle_s": args.settle,
                    "refresh_interval_s": args.refresh_interval, "tasks": args.tasks,
                    "recovery_env": FAST_LEASES},
            machine=machine, figures=figures, tables=tables,
            refresh_cost={"method": cost_method, "unit": "commands/s",
                          "results": [asdict(cost) for cost in costs],
                          "ratio_last_to_first": ratio},
            results=[row.to_json() for row in rows],
            mass_recovery=None if recovery is None else {
                "method": recovery_method,
                **{k: v for k, v in asdict(recovery).items() if k != "latencies_ns"},
                "samples_ms": sorted(round(value / 1e6, 1) for value in recovery.latencies_ns),
            },
            target=target.to_json())
    failed = target.met is False or not recovery_ok
    return 1 if args.check and failed else 0


def _report_lines(machine: Mapping[str, Any], *, inflights: list[int], costs: list[RefreshCost],
                  cost_method: str, target: Target, ratio: float | None, rows: list[Row],
                  recovery: MassRecovery | None) -> list[str]:
    lines = [f"leases: refresh cost and mass recovery ({machine_summary(machine)})"]
    if costs:
        lines.append(format_costs("lease-refresh Redis cost (commands/s)", cost_method, costs))
        lines += [f"  N={cost.inflight}: filled in {cost.fill_s:.1f} s; "
                  f"tasks started in window: {cost.started_during_window}; "
                  f"delta {cost.delta}" for cost in costs]
    if ratio is not None:
        lines.append(f"target: refresh cost at {inflights[-1]} <= {TARGET_RATIO:g}x cost at "
                     f"{inflights[0]}: measured {ratio:.2f}x, {target.verdict}")
    if rows:
        lines.append(format_table("mass recovery: kill -> attempt 2", rows, unit="ms",
                                  count_label="tasks"))
    if recovery is not None:
        lines.append(f"  delivered {recovery.delivered}/{recovery.tasks}, attempt 2 started "
                     f"{recovery.resumed}/{recovery.tasks}, duplicate completions "
                     f"{recovery.duplicate_completions}, extra executions "
                     f"{recovery.extra_executions}")
    return lines


BENCHMARK = Benchmark(
    name=NAME,
    help="count the Redis commands lease refreshing costs with 10 and 1,000 tasks inflight; "
         "time recovery of 25 tasks killed with their worker",
    add_arguments=add_arguments,
    run=run,
    scale={"tasks": 25},
)
