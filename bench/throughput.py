"""End-to-end no-op throughput: tasks per second through the same worker, relier vs vanilla.

Per worker pool (``--pool``: prefork and threads ``-c 2``, solo, which runs one task at a time),
round and arm, on a fresh Redis-compatible server (loopback), with a ``celery worker``
(``bench.noop_arms``) of that pool; the benchmark process is the one producer:

1. drain: N no-op tasks pushed with no worker running (the push rate: N / time of the pushes),
   then the worker is launched and runs them: (N - 1) / (first -> last ``succeeded`` line of
   its log);
2. push + run: the same worker, now warm, while N more are pushed: N / (``time.time()`` just
   before the first push -> the last ``succeeded`` line).

Completions are read from the worker's log (Celery stamps each line to the millisecond), so
counting them costs the server nothing. Figures are medians over the rounds; rounds rotate
the order of the arms. Producer and worker share the machine's cores. The prefork figures keep
their names; the other pools' say which pool. The push rate does not involve the worker: its
figure is the median over every pool's rounds.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench import Benchmark
from bench.figures import Figure, by_arm, format_text, table
from bench.noop_arms import POOLS, concurrency_of, noop_arm, started, workers_text
from bench.options import add_arm_option, add_number, add_output_options
from bench.result_files import machine_summary, now_utc, publish, server_label
from bench.servers import rotating_arms
from bench.worker_log import WorkerLog
from bench.workers import ARMS
from relier.testing import server_binary

NAME = "throughput"
#: The three rates, as (key, figure name), in the order the page shows them.
RATES = (("push_run", "throughput: push + run, one producer, warm worker"),
         ("drain", "throughput: drain a pre-filled queue"),
         ("push", "push rate: one producer, no consumer"))
#: The rates that depend on the worker's pool (the push rate has no worker).
WORKER_RATES = ("push_run", "drain")
#: The pool whose figures keep `RATES`' names (the page's and the plot's since before pools).
DEFAULT_POOL = "prefork"


@dataclass(frozen=True, slots=True)
class Rates:
    """One round of one arm, in tasks per second."""

    arm: str
    round: int
    tasks: int
    push: float
    drain: float
    push_run: float
    pool: str = DEFAULT_POOL


def measure(arm: str, url: str, log_path: Path, round_index: int, *, tasks: int,
            timeout: float, pool: str = DEFAULT_POOL) -> Rates:
    subject = noop_arm(arm, url, pool=pool)
    log = WorkerLog(log_path)
    pushing = time.perf_counter()
    for _ in range(tasks):
        subject.push()
    push_s = time.perf_counter() - pushing
    with started(subject.worker(log_path), ready=False):
        drained = log.wait_successes(tasks, timeout)
        drain_s = drained[tasks - 1] - drained[0]
        began = time.time()
        for _ in range(tasks):
            subject.push()
        finished = log.wait_successes(2 * tasks, timeout)[2 * tasks - 1]
    return Rates(arm=arm, round=round_index, tasks=tasks, push=tasks / push_s,
                 drain=(tasks - 1) / drain_s if drain_s > 0 else float("nan"),
                 push_run=tasks / (finished - began), pool=pool)


def measuring(pool: str, tasks: int) -> Callable[[str, int, str, Path], Rates]:
    """`measure` with a `pool` worker, as `rotating_arms` calls it."""
    def one(arm: str, round_index: int, url: str, directory: Path) -> Rates:
        return measure(arm, url, directory / "worker.log", round_index, tasks=tasks,
                       timeout=max(120.0, tasks * 0.1), pool=pool)
    return one


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_number(parser, "--tasks", 2000, "no-op tasks per phase of a round")
    add_number(parser, "--rounds", 2, "rounds per arm and pool, in rotating order")
    parser.add_argument("--pool", choices=POOLS, action="append", default=None,
                        help="worker pool (-P) to measure, repeatable (default: all; prefork and "
                             "threads -c 2, solo 1)")
    add_arm_option(parser, ARMS)
    add_output_options(parser, NAME)


def medians(results: list[Rates], arms: list[str]) -> dict[str, dict[str, float]]:
    """Median of each rate over the rounds, per arm."""
    return {arm: {key: statistics.median(getattr(r, key) for r in results if r.arm == arm)
                  for key, _ in RATES} for arm in arms}


def figure_name(key: str, pool: str) -> str:
    """`RATES`' name of `key`, the pool said unless it is `DEFAULT_POOL`."""
    name = dict(RATES)[key]
    return name if pool == DEFAULT_POOL else f"{name} ({pool} pool, -c {concurrency_of(pool)})"


def figures_of(results: list[Rates], arms: list[str], pools: list[str],
               methods: dict[tuple[str, str], str]) -> list[Figure]:
    """Per pool, the worker rates; then the push rate over every round (no worker involved).
    `methods` maps (rate key, pool) to the method (``(push, "")`` for the push rate)."""
    figures: list[Figure] = []
    for pool in pools:
        per_arm = medians([r for r in results if r.pool == pool], arms)
        figures += [by_arm(figure_name(key, pool), "tasks/s", methods[key, pool],
                           {arm: round(per_arm[arm][key], 1) for arm in arms},
                           higher_is_better=True) for key in WORKER_RATES]
    pushes = medians(results, arms)
    figures.append(by_arm(dict(RATES)["push"], "tasks/s", methods["push", ""],
                          {arm: round(pushes[arm]["push"], 1) for arm in arms},
                          higher_is_better=True))
    return figures


def ratio_rows(results: list[Rates], arms: list[str], pools: list[str]) -> list[tuple[str, ...]]:
    """Per pool and worker rate: the arms' medians and relier ÷ each vanilla arm."""
    rows: list[tuple[str, ...]] = []
    for pool in pools:
        per_arm = medians([r for r in results if r.pool == pool], arms)
        for key in WORKER_RATES:
            relier = per_arm.get("relier", {}).get(key)
            rows.append((pool, dict(RATES)[key].split(": ", 1)[-1],
                         *(f"{per_arm[arm][key]:,.0f}" for arm in arms),
                         *("—" if relier is None or not per_arm[arm][key]
                           else f"{relier / per_arm[arm][key]:.2f}x"
                           for arm in arms if arm != "relier")))
    return rows


def run(args: argparse.Namespace) -> int:
    if args.tasks < 2 or args.rounds < 1:
        raise SystemExit("--tasks must be >= 2 and --rounds >= 1")
    arms: list[str] = args.arm or list(ARMS)
    pools: list[str] = list(dict.fromkeys(args.pool or POOLS))
    began = now_utc()
    binary = server_binary(args.server)
    results: list[Rates] = []
    machine: dict[str, Any] = {}
    for pool in pools:
        described, found = rotating_arms(f"{NAME}-{pool}", arms, args.rounds, binary,
                                         measuring(pool, args.tasks))
        machine = machine or described
        results += found

    label = server_label(machine)

    def common(pool: str) -> str:
        workers = "; ".join(workers_text(p) for p in ([pool] if pool else pools))
        return (f"{args.tasks:,} no-op tasks, median of {args.rounds} rounds (rotating arm "
                f"order){'' if pool else ' of every pool'}, fresh {label} per round; the "
                f"benchmark process pushes (relier push(), Celery send_task()); completions from "
                f"the worker log's `succeeded` lines; {workers}")

    methods: dict[tuple[str, str], str] = {("push", ""): (
        f"N pushes with no worker running, N / their duration (perf_counter); {common('')}")}
    for pool in pools:
        methods["push_run", pool] = (f"warm worker; N / (time.time() before the first push -> "
                                     f"last success); {common(pool)}")
        methods["drain", pool] = (f"N queued before the worker starts; (N - 1) / (first -> last "
                                  f"success); {common(pool)}")
    figures = figures_of(results, arms, pools, methods)
    vanilla = [arm for arm in arms if arm != "relier"]
    tables = [
        table("throughput per round (tasks/s)", common(""),
              ("pool", "arm", "round", "push + run", "drain", "push only"),
              [(r.pool, r.arm, r.round + 1, f"{r.push_run:,.0f}", f"{r.drain:,.0f}",
                f"{r.push:,.0f}")
               for r in sorted(results, key=lambda r: (pools.index(r.pool), arms.index(r.arm),
                                                       r.round))]),
        table("throughput per pool: medians (tasks/s) and ratios", common(""),
              ("pool", "rate", *arms, *(f"relier ÷ {arm}" for arm in vanilla)),
              ratio_rows(results, arms, pools) if "relier" in arms else []),
    ]
    by_pool = {pool: medians([r for r in results if r.pool == pool], arms) for pool in pools}
    publish(NAME, args.json_out, began,
            [f"throughput: no-op tasks/s ({machine_summary(machine)})",
             format_text(figures, tables)],
            description="end-to-end no-op throughput through one worker per pool, relier vs "
                        "vanilla Celery",
            config={"tasks": args.tasks, "rounds": args.rounds, "arms": arms, "pools": pools},
            machine=machine, figures=figures, tables=tables,
            medians=by_pool.get(DEFAULT_POOL, {}), medians_by_pool=by_pool,
            rounds=[asdict(r) for r in results])
    return 0


BENCHMARK = Benchmark(
    name=NAME,
    help="measure no-op tasks/s pushed and run by one worker: relier vs vanilla Celery",
    add_arguments=add_arguments,
    run=run,
    scale={"tasks": 10_000, "rounds": 3},
)
