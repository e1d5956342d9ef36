"""End-to-end no-op throughput: tasks per second through the same worker, relier vs vanilla.

Per round and arm, on a fresh Redis-compatible server (loopback), with a ``celery worker``
(``bench.noop_arms``: prefork ``-c 2``); the benchmark process is the one producer:

1. drain: N no-op tasks pushed with no worker running (the push rate: N / time of the pushes),
   then the worker is launched and runs them: (N - 1) / (first -> last ``succeeded`` line of
   its log);
2. push + run: the same worker, now warm, while N more are pushed: N / (``time.time()`` just
   before the first push -> the last ``succeeded`` line).

Completions are read from the worker's log (Celery stamps each line to the millisecond), so
counting them costs the server nothing. Figures are medians over the rounds; rounds rotate
the order of the arms. Producer and worker share the machine's cores.
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from bench import Benchmark
from bench.figures import Figure, by_arm, format_text, table
from bench.noop_arms import WORKERS, noop_arm, started
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


@dataclass(frozen=True, slots=True)
class Rates:
    """One round of one arm, in tasks per second."""

    arm: str
    round: int
    tasks: int
    push: float
    drain: float
    push_run: float


def measure(arm: str, url: str, log_path: Path, round_index: int, *, tasks: int,
            timeout: float) -> Rates:
    subject = noop_arm(arm, url)
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
                 push_run=tasks / (finished - began))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_number(parser, "--tasks", 2000, "no-op tasks per phase of a round")
    add_number(parser, "--rounds", 2, "rounds per arm, in rotating order")
    add_arm_option(parser, ARMS)
    add_output_options(parser, NAME)


def medians(results: list[Rates], arms: list[str]) -> dict[str, dict[str, float]]:
    """Median of each rate over the rounds, per arm."""
    return {arm: {key: statistics.median(getattr(r, key) for r in results if r.arm == arm)
                  for key, _ in RATES} for arm in arms}


def run(args: argparse.Namespace) -> int:
    if args.tasks < 2 or args.rounds < 1:
        raise SystemExit("--tasks must be >= 2 and --rounds >= 1")
    arms: list[str] = args.arm or list(ARMS)
    began = now_utc()
    binary = server_binary(args.server)
    machine, results = rotating_arms(
        NAME, arms, args.rounds, binary,
        lambda arm, round_index, url, directory: measure(
            arm, url, directory / "worker.log", round_index, tasks=args.tasks,
            timeout=max(120.0, args.tasks * 0.1)))

    common = (f"{args.tasks:,} no-op tasks, median of {args.rounds} rounds (rotating arm order), "
              f"fresh {server_label(machine)} per round; the benchmark process pushes "
              f"(relier push(), Celery send_task()); completions from the worker log's "
              f"`succeeded` lines; {WORKERS}")
    methods = {
        "push_run": f"warm worker; N / (time.time() before the first push -> last success); "
                    f"{common}",
        "drain": f"N queued before the worker starts; (N - 1) / (first -> last success); "
                 f"{common}",
        "push": f"N pushes with no worker running, N / their duration (perf_counter); {common}",
    }
    per_arm = medians(results, arms)
    figures: list[Figure] = [
        by_arm(name, "tasks/s", methods[key], {arm: round(per_arm[arm][key], 1) for arm in arms},
               higher_is_better=True)
        for key, name in RATES]
    details = table(
        "throughput per round (tasks/s)", common,
        ("arm", "round", "push + run", "drain", "push only"),
        [(r.arm, r.round + 1, f"{r.push_run:,.0f}", f"{r.drain:,.0f}", f"{r.push:,.0f}")
         for r in sorted(results, key=lambda r: (arms.index(r.arm), r.round))])
    publish(NAME, args.json_out, began,
            [f"throughput: no-op tasks/s ({machine_summary(machine)})",
             format_text(figures, [details])],
            description="end-to-end no-op throughput through one worker, relier vs vanilla Celery",
            config={"tasks": args.tasks, "rounds": args.rounds, "arms": arms}, machine=machine,
            figures=figures, tables=[details], medians=per_arm,
            rounds=[asdict(r) for r in results])
    return 0


BENCHMARK = Benchmark(
    name=NAME,
    help="measure no-op tasks/s pushed and run by one worker: relier vs vanilla Celery",
    add_arguments=add_arguments,
    run=run,
    scale={"tasks": 10_000, "rounds": 3},
)
