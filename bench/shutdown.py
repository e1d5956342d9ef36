"""Graceful shutdown: what SIGTERM to a busy worker costs with relier and with vanilla Celery.

Three arms run the same workload, each on its own fresh Redis-compatible server (loopback):

- ``relier``: relier bound, ``RELIER_DRAIN_TIMEOUT=1``, ``RELIER_HANDOFF_HOOK_TIMEOUT=1``; the
  task has ``soft_timeout`` and an ``on_soft_timeout`` hook that checkpoints the step reached,
  and resumes from it on its next attempt;
- ``vanilla-defaults``: plain Celery, default settings;
- ``vanilla-acks-late``: plain Celery, ``task_acks_late=True`` +
  ``task_reject_on_worker_lost=True``.

Each arm runs one prefork worker (``-c 4``). Per cycle: N tasks, each sleeping ~S seconds, are
pushed; once ``min(4, N)`` of them have started their body (plus a short delay), the worker's
main process gets SIGTERM (Celery's warm shutdown) and a replacement worker is started at once,
the same way for every arm. The old worker's exit is awaited (bounded; SIGKILL at the bound),
then the cycle's tasks are awaited (bounded) and the next cycle SIGTERMs the replacement.

Body starts and completions are counted in Redis per task id (INCR at body start, INCR + SADD
at body end). Vanilla Celery's warm shutdown waits for running tasks to finish, however long
they take; that is its documented behaviour and is reported as measured.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import redis

from bench import Benchmark
from bench.apps.shutdown_tasks import make_app
from bench.figures import Figure, Table, by_arm, table
from bench.options import add_check_option, add_number, add_output_options
from bench.redis_state import arm_counts, wait_for_completions
from bench.report import Row, column_formatter, format_table, summarize
from bench.result_files import machine_summary, now_utc, publish, server_label
from bench.senders import vanilla_pusher
from bench.servers import probe_machine, running_server
from bench.workers import ARMS, bench_worker, vanilla_worker
from relier.testing import CeleryWorker, server_binary, wait_until

NAME = "shutdown"
CONCURRENCY = 4
RELIER_ENV = {"RELIER_DRAIN_TIMEOUT": "1", "RELIER_HANDOFF_HOOK_TIMEOUT": "1"}


@dataclass(slots=True)
class ArmResult:
    """What one arm ended with, over every cycle."""

    arm: str
    cycles: int
    tasks: int
    completed: int = 0
    lost: int = 0
    body_starts: int = 0
    duplicate_executions: int = 0
    duplicate_completions: int = 0
    resumed_from_checkpoint: int = 0
    exit_s: list[float] = field(default_factory=list)
    exit_codes: list[int | None] = field(default_factory=list)
    forced_kills: int = 0
    waited_s: float = 0.0


def _subjects(arm: str, url: str, log_dir: Path, seconds: float
              ) -> tuple[Callable[[int], CeleryWorker], Callable[[], str]]:
    """How to start worker number ``index`` of `arm`, and how to push one task to it."""
    if arm == "relier":
        bound = make_app(url)

        def relier_worker(index: int) -> CeleryWorker:
            return bench_worker("shutdown_worker.app", url, log_dir / f"{arm}-{index}.log",
                                concurrency=CONCURRENCY, env=RELIER_ENV)

        return relier_worker, lambda: str(bound.work.push(arm, seconds).id)

    def plain_worker(index: int) -> CeleryWorker:
        return vanilla_worker(arm, url, log_dir / f"{arm}-{index}.log", concurrency=CONCURRENCY)

    return plain_worker, vanilla_pusher(arm, url, seconds)


def _wait_started(client: redis.Redis, arm: str, ids: list[str], wanted: int) -> None:
    wait_until(lambda: sum(1 for c in arm_counts(client, arm, ids, "exec") if c) >= wanted,
               timeout=60, interval=0.01, message=f"{arm}: tasks never started")


def _terminate(current: CeleryWorker, replacement: CeleryWorker, result: ArmResult,
               exit_timeout: float) -> None:
    """SIGTERM `current`'s main process, start `replacement` at once, time the old exit."""
    process = current.process
    if process is None:
        raise RuntimeError("worker not started")
    signalled = time.monotonic()
    os.kill(current.pid, signal.SIGTERM)
    replacement.start()
    code: int | None
    try:
        code = process.wait(exit_timeout)
        result.exit_s.append(time.monotonic() - signalled)
    except subprocess.TimeoutExpired:
        current.kill()
        code = None
        result.forced_kills += 1
        result.exit_s.append(exit_timeout)
    result.exit_codes.append(code)


def _arm(arm: str, url: str, log_dir: Path, *, tasks: int, seconds: float, cycles: int,
         term_after: float, exit_timeout: float, settle: float, cap: float) -> ArmResult:
    client = redis.Redis.from_url(url)
    factory, push = _subjects(arm, url, log_dir, seconds)
    result = ArmResult(arm=arm, cycles=cycles, tasks=tasks * cycles)
    workers: list[CeleryWorker] = []
    all_ids: list[str] = []
    started_at = time.monotonic()
    try:
        current = factory(0)
        workers.append(current)
        current.start().wait_ready()
        for cycle in range(cycles):
            ids = [push() for _ in range(tasks)]
            all_ids += ids
            _wait_started(client, arm, ids, min(CONCURRENCY, tasks))
            time.sleep(term_after)
            replacement = factory(cycle + 1)
            workers.append(replacement)
            _terminate(current, replacement, result, exit_timeout)
            replacement.wait_ready()
            current = replacement
            wait_for_completions(client, arm, ids, settle=settle, cap=cap)
        wait_for_completions(client, arm, all_ids, settle=settle, cap=cap)
        exec_counts = arm_counts(client, arm, all_ids, "exec")
        done_counts = arm_counts(client, arm, all_ids, "done")
        result.resumed_from_checkpoint = int(client.get(f"bench:resumed:{arm}") or 0)
    finally:
        for worker in workers:
            worker.kill()
        client.close()
    result.waited_s = round(time.monotonic() - started_at, 3)
    result.completed = sum(1 for count in done_counts if count)
    result.lost = len(all_ids) - result.completed
    result.body_starts = sum(exec_counts)
    result.duplicate_executions = sum(max(count - 1, 0) for count in exec_counts)
    result.duplicate_completions = sum(1 for count in done_counts if count > 1)
    return result


def format_arms(title: str, methods: dict[str, str], results: list[ArmResult]) -> str:
    headers = ("arm", "tasks", "completed", "lost", "body starts", "dup exec", "dup done",
               "resumed", "exit p50 s", "exit max s", "forced kills")
    body = [(r.arm, str(r.tasks), str(r.completed), str(r.lost), str(r.body_starts),
             str(r.duplicate_executions), str(r.duplicate_completions),
             str(r.resumed_from_checkpoint),
             f"{summarize([round(s * 1e9) for s in r.exit_s]).p50_ns / 1e9:.2f}",
             f"{max(r.exit_s):.2f}", str(r.forced_kills))
            for r in results]
    line = column_formatter([headers, *body])
    notes = [f"  {name}: {text}" for name, text in methods.items()]
    return "\n".join([title, line(headers), *map(line, body), "method:", *notes])


def figures_and_tables(results: list[ArmResult], workload: str,
                       methods: dict[str, str]) -> tuple[list[Figure], list[Table]]:
    """The page's figures, one value per arm, and the outcome table."""
    def exit_p50(result: ArmResult) -> float:
        return round(summarize([round(s * 1e9) for s in result.exit_s]).p50_ns / 1e9, 3)

    first = results[0]
    tasks = f"{first.tasks} tasks over {first.cycles} SIGTERM cycles"
    short = (f"{first.tasks // first.cycles} tasks per cycle, {first.cycles} cycles, prefork "
             f"-c {CONCURRENCY}, SIGTERM to the main process while tasks run, a replacement "
             "started at once (every arm)")
    figures = [
        by_arm("shutdown: SIGTERM -> old worker exits, p50", "s",
               f"{methods['exit p50/max']}; {short}", {r.arm: exit_p50(r) for r in results}),
        by_arm(f"shutdown, {tasks}: tasks lost", "tasks",
               f"{methods['lost']}, after bounded waits; {short}",
               {r.arm: r.lost for r in results}),
        by_arm(f"shutdown, {tasks}: duplicate completions", "tasks",
               f"{methods['dup done']}; {short}",
               {r.arm: r.duplicate_completions for r in results}),
        by_arm(f"shutdown, {tasks}: extra body starts (redone work)", "tasks",
               f"{methods['body starts / dup exec']}; {short}",
               {r.arm: r.duplicate_executions for r in results}),
    ]
    outcome = table(
        "SIGTERM to a busy worker, a replacement started at once", workload,
        ("arm", "tasks", "completed", "lost", "extra body starts", "duplicate completions",
         "resumed from checkpoint", "exit p50", "exit max", "forced kills"),
        [(r.arm, r.tasks, r.completed, r.lost, r.duplicate_executions, r.duplicate_completions,
          r.resumed_from_checkpoint, f"{exit_p50(r):.2f} s", f"{max(r.exit_s):.2f} s",
          r.forced_kills) for r in results])
    return figures, [outcome]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_number(parser, "--tasks", 20, "tasks pushed per cycle")
    add_number(parser, "--task-seconds", 3.0, "sleep in each task")
    add_number(parser, "--cycles", 3, "SIGTERM + replacement cycles per arm")
    add_number(parser, "--term-after", 0.5, "delay between the first tasks starting and SIGTERM")
    add_number(parser, "--exit-timeout", 60.0, "longest wait for the old worker to exit before SIGKILL")
    add_number(parser, "--settle", 10.0, "stop waiting for completions after this long without progress")
    add_number(parser, "--max-wait", 120.0, "longest wait for a cycle's completions")
    parser.add_argument("--arm", choices=ARMS, action="append", default=None,
                        help="run only this arm (repeatable; default: all three)")
    add_output_options(parser, NAME)
    add_check_option(parser, "relier loses a task or completes one twice")


def run(args: argparse.Namespace) -> int:
    if min(args.tasks, args.cycles) < 1 or args.task_seconds <= 0:
        raise SystemExit("--tasks and --cycles must be >= 1 and --task-seconds > 0")
    arms: list[str] = args.arm or list(ARMS)
    started = now_utc()
    binary = server_binary(args.server)
    results: list[ArmResult] = []
    with contextlib.ExitStack() as stack:
        parent = Path(stack.enter_context(
            tempfile.TemporaryDirectory(prefix="relier-bench-shutdown-")))
        machine: dict[str, Any] = {}
        for arm in arms:
            with running_server(parent / arm, binary) as server:
                if not machine:
                    machine = probe_machine(server, binary)
                results.append(_arm(
                    arm, server.url, parent, tasks=args.tasks, seconds=args.task_seconds,
                    cycles=args.cycles, term_after=args.term_after,
                    exit_timeout=args.exit_timeout, settle=args.settle, cap=args.max_wait))

    workload = (f"{args.tasks} tasks x {args.task_seconds:g} s per cycle, {args.cycles} cycles, "
                f"one prefork -c {CONCURRENCY} worker; SIGTERM to its main process "
                f"{args.term_after:g} s after {min(CONCURRENCY, args.tasks)} bodies started, "
                "replacement worker started right after the signal (every arm); fresh "
                f"{server_label(machine)} server per arm; relier: RELIER_DRAIN_TIMEOUT=1, "
                "RELIER_HANDOFF_HOOK_TIMEOUT=1, soft_timeout + on_soft_timeout checkpoint hook")
    methods = {
        "completed": "distinct task ids whose body ended (SADD at body end), after each "
                     f"cycle's bounded wait ({args.settle:g} s without progress or "
                     f"{args.max_wait:g} s) and a final one",
        "lost": "tasks pushed minus completed",
        "body starts / dup exec": "INCR per task id at body start; dup exec = starts beyond "
                                  "one per task (a relier handoff resumes in a 2nd start)",
        "dup done": "task ids whose body ended more than once",
        "resumed": "body starts that began from a checkpoint (ctx.partial step > 0)",
        "exit p50/max": "time.monotonic() just before os.kill(SIGTERM) to Popen.wait() return "
                        f"of the old worker, one sample per cycle; SIGKILL at "
                        f"{args.exit_timeout:g} s counted as forced kill",
    }
    rows = [Row("exit after SIGTERM", r.arm, workload,
                summarize([round(s * 1e9) for s in r.exit_s])) for r in results]
    relier_result = next((r for r in results if r.arm == "relier"), None)
    failed = relier_result is not None and bool(
        relier_result.lost or relier_result.duplicate_completions)
    figures, tables = figures_and_tables(results, workload, methods)
    report = [format_table(f"shutdown: old worker exit after SIGTERM ({machine_summary(machine)})",
                           rows, unit="s", count_label="SIGTERMs"),
              format_arms("shutdown: delivery across SIGTERM + replacement", methods, results)]
    publish(NAME, args.json_out, started, report,
            description="SIGTERM to a busy worker: relier handoff vs vanilla Celery warm shutdown",
            config={"tasks": args.tasks, "task_seconds": args.task_seconds,
                    "cycles": args.cycles, "concurrency": CONCURRENCY,
                    "term_after_s": args.term_after, "exit_timeout_s": args.exit_timeout,
                    "settle_s": args.settle, "max_wait_s": args.max_wait,
                    "relier_env": RELIER_ENV, "arms": arms},
            machine=machine, figures=figures, tables=tables,
            notes=[
                "Read honestly: a warm shutdown of vanilla Celery loses nothing either when "
                "SIGTERM reaches only the main process; it waits for running tasks however long "
                "they take. relier bounds the wait (drain + hook) and hands the rest to another "
                "worker, which re-runs them from their checkpoints: a flat exit time, paid for "
                "with redone work. The exit advantage grows with task length.",
            ],
            workload=workload, methods=methods, results=[row.to_json() for row in rows],
            arms=[asdict(result) for result in results])
    return 1 if args.check and failed else 0


BENCHMARK = Benchmark(
    name=NAME,
    help="SIGTERM busy workers (with a replacement) and count completed, lost and duplicated "
         "tasks and exit times: relier handoff vs vanilla Celery",
    add_arguments=add_arguments,
    run=run,
)
