"""Cold start: from launching a worker process to its first task's result, relier vs vanilla.

Per round and arm, on a fresh Redis-compatible server (loopback): one no-op task is sent to
the empty queue, then ``celery worker`` is launched (``bench.noop_arms``: prefork ``-c 2``).
Timed from ``time.time()`` just before ``Popen`` to the worker's own log line ``Task ...
succeeded`` (the result is recorded before it is logged; Celery stamps lines to the
millisecond); the ``ready.`` line gives launch -> ready. Rounds rotate the order of the arms.
"Cold" is a new process; the interpreter's files are in the page cache after the first round.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from bench import Benchmark
from bench.figures import Figure, by_arm, format_text, table
from bench.noop_arms import WORKERS, noop_arm, started
from bench.options import add_arm_option, add_number, add_output_options
from bench.report import summarize
from bench.result_files import machine_summary, now_utc, publish, server_label
from bench.servers import rotating_arms
from bench.worker_log import WorkerLog
from bench.workers import ARMS
from relier.testing import server_binary

NAME = "coldstart"


@dataclass(frozen=True, slots=True)
class Start:
    """One launch: seconds from ``Popen`` to ``ready.`` and to the first task's success."""

    arm: str
    round: int
    ready_s: float
    first_task_s: float


def launch(arm: str, url: str, log_path: Path, round_index: int, timeout: float) -> Start:
    subject = noop_arm(arm, url)
    subject.push()
    log = WorkerLog(log_path)
    worker = subject.worker(log_path)
    launched = time.time()
    with started(worker, ready=False):
        first = log.wait_successes(1, timeout)[0]
    if log.ready_at is None:
        log.poll()
    ready = log.ready_at if log.ready_at is not None else first
    return Start(arm=arm, round=round_index, ready_s=ready - launched, first_task_s=first - launched)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_number(parser, "--rounds", 3, "launches of each arm, in rotating order")
    add_number(parser, "--timeout", 60.0, "longest wait for the first task, s")
    add_arm_option(parser, ARMS)
    add_output_options(parser, NAME)


def _ns(seconds: list[float]) -> list[int]:
    return [round(value * 1e9) for value in seconds]


def run(args: argparse.Namespace) -> int:
    if args.rounds < 1:
        raise SystemExit("--rounds must be >= 1")
    arms: list[str] = args.arm or list(ARMS)
    began = now_utc()
    binary = server_binary(args.server)
    machine, starts = rotating_arms(
        NAME, arms, args.rounds, binary,
        lambda arm, round_index, url, directory: launch(arm, url, directory / "worker.log",
                                                        round_index, args.timeout))

    common = (f"{args.rounds} launches per arm, rotating order, a fresh {server_label(machine)} "
              f"with one no-op task queued each time; {WORKERS}")
    method = f"time.time() before Popen -> the worker log's `succeeded` line (ms stamps); {common}"
    ready_method = f"time.time() before Popen -> the worker log's `ready.` line; {common}"
    stats = {arm: summarize(_ns([s.first_task_s for s in starts if s.arm == arm]))
             for arm in arms}
    ready = {arm: summarize(_ns([s.ready_s for s in starts if s.arm == arm])) for arm in arms}
    after_ready = {arm: summarize(_ns([s.first_task_s - s.ready_s for s in starts
                                       if s.arm == arm])) for arm in arms}
    figures: list[Figure] = [
        by_arm("cold start: launch -> first task result, p50", "s", method,
               {arm: stats[arm].p50_ns / 1e9 for arm in arms}),
        by_arm("cold start: launch -> worker ready, p50", "s", ready_method,
               {arm: ready[arm].p50_ns / 1e9 for arm in arms}),
    ]
    details = table(
        "cold start per arm", method,
        ("arm", "launches", "first task p50", "first task min", "first task max",
         "ready p50", "ready -> first task p50"),
        [(arm, stats[arm].count, f"{stats[arm].p50_ns / 1e9:.3f} s",
          f"{stats[arm].min_ns / 1e9:.3f} s", f"{stats[arm].max_ns / 1e9:.3f} s",
          f"{ready[arm].p50_ns / 1e9:.3f} s",
          f"{after_ready[arm].p50_ns / 1e6:.0f} ms") for arm in arms])
    publish(NAME, args.json_out, began,
            [f"coldstart: worker launch -> first task ({machine_summary(machine)})",
             format_text(figures, [details])],
            description="launch of a worker process to its first task's result, relier vs "
                        "vanilla Celery",
            config={"rounds": args.rounds, "arms": arms}, machine=machine, figures=figures,
            tables=[details], starts=[asdict(start) for start in starts])
    return 0


BENCHMARK = Benchmark(
    name=NAME,
    help="time a worker launch to its first task's result: relier vs vanilla Celery",
    add_arguments=add_arguments,
    run=run,
    scale={"rounds": 10},
)
