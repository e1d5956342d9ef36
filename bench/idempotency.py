"""Idempotent tasks: duplicate submissions collapse to one execution, and what the option costs.

Every figure comes from one real ``celery worker`` (prefork ``-c 2``, prefetch disabled) on a
Redis-compatible server started for the run on loopback; nothing is simulated.

1. duplicate submissions: S ``push()`` calls (default 2,000) of ONE call of an idempotent task
   (same arguments, so the same idempotency key) from T threads (default 8) released together
   by a barrier, while the worker runs. The body INCRs an execution counter in Redis and sleeps
   (default 0.2 s), so submissions land while the task is queued, running and completed. Reported:
   distinct task ids among the handles (target 1), pushes that created a task (target 1),
   executions counted in Redis after every handle's ``result()`` and a settle delay (target 1),
   relier task records in Redis, whether every handle's result is identical, and how many
   pushes returned before the body started, overlapped it, or began after it completed.
2. overhead of ``idempotent=True``: two no-op tasks, ``bench.idem_noop`` (idempotent) and
   ``bench.plain_noop``, same body and result. End-to-end: N distinct calls of each (default 500),
   one at a time, interleaved with alternating order; timed from before ``push()`` to the result
   (the record's state polled every 0.5 ms, then ``result()``). Dispatch only: ``push()`` alone,
   interleaved the same way, with the worker stopped (no consumer). Ratios are idempotent/plain.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import redis

from bench import Benchmark
from bench.apps.idempotency_tasks import EXECUTIONS_KEY, IdempotencyApp, make_app
from bench.figures import Figure, Table, stats_table, table
from bench.options import add_check_option, add_number, add_output_options
from bench.redis_state import counter, queued
from bench.report import Row, compared, format_table, summarize
from bench.result_files import Target, machine_summary, now_utc, publish, server_label
from bench.servers import connected_server, describe_machine
from bench.timing import interleave, warm_up
from bench.workers import bench_worker
from relier.handle import TaskHandle
from relier.task import RelierTask
from relier.testing import CeleryWorker, server_binary

NAME = "idempotency"
WORKER_CONCURRENCY = 2
#: Seconds between polls of a task's state in the end-to-end figure.
POLL_S = 0.0005


@dataclass(frozen=True, slots=True)
class Duplicates:
    """What S concurrent submissions of one idempotent call ended with."""

    submissions: int
    threads: int
    hold_s: float
    distinct_task_ids: int
    created: int
    existing: int
    pushed_before_start: int
    pushed_while_running: int
    pushed_after_completion: int
    executions: int
    records: int
    distinct_results: int
    results_identical: bool
    result: Any
    submit_wall_s: float
    done_wall_s: float
    push_ns: list[int] = field(repr=False)

    @property
    def met(self) -> bool:
        return (self.distinct_task_ids == 1 and self.created == 1 and self.executions == 1
                and self.results_identical)


def _records(client: redis.Redis, bound: IdempotencyApp) -> int:
    """relier task records (hashes ``rl:t:<id>``, not their ``:h`` history lists)."""
    keys = bound.relier.keys
    history_suffix = keys.history("x").removeprefix(keys.record("x")).encode()
    return sum(1 for key in client.scan_iter(match=keys.record("*"), count=1000)
               if not key.endswith(history_suffix))


def duplicates(bound: IdempotencyApp, client: redis.Redis, *, submissions: int, threads: int,
               hold: float, settle: float, timeout: float) -> Duplicates:
    """Push one idempotent call `submissions` times from `threads` threads; count executions."""
    key = f"dup-{uuid.uuid4().hex[:12]}"
    shares = [submissions // threads + (1 if index < submissions % threads else 0)
              for index in range(threads)]
    barrier = threading.Barrier(threads + 1)

    def submit(count: int) -> list[tuple[TaskHandle, int, int, int]]:
        """(handle, push ns, wall ms when push began, wall ms when it returned) per push."""
        clock = time.perf_counter_ns
        pushed: list[tuple[TaskHandle, int, int, int]] = []
        barrier.wait()
        for _ in range(count):
            wall_began = time.time_ns() // 1_000_000
            start = clock()
            handle = bound.counted.push(key, hold)
            elapsed = clock() - start
            pushed.append((handle, elapsed, wall_began, time.time_ns() // 1_000_000))
        return pushed

    gc.collect()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        futures = [pool.submit(submit, share) for share in shares]
        barrier.wait()
        began = time.monotonic()
        pushed = [item for future in futures for item in future.result()]
        submitted = time.monotonic() - began
    handles = [handle for handle, *_ in pushed]
    results = [handle.result(timeout=timeout) for handle in handles]
    done = time.monotonic() - began
    time.sleep(settle)  # a late second execution, if any, would land here
    first = results[0]
    # The record's body start and end (ms, the server's clock: same host as time.time()).
    fields: list[Any] = client.hmget(bound.relier.keys.record(handles[0].id),
                                     ["started", "ended"])
    body_started, body_ended = (int(value) for value in fields)
    distinct_results = len({repr(value) for value in results})
    return Duplicates(
        submissions=len(handles),
        threads=threads,
        hold_s=hold,
        distinct_task_ids=len({handle.id for handle in handles}),
        created=sum(1 for handle in handles if not handle.existing),
        existing=sum(1 for handle in handles if handle.existing),
        pushed_before_start=sum(1 for *_, returned in pushed if returned < body_started),
        pushed_while_running=sum(1 for *_, began, returned in pushed
                                 if returned >= body_started and began <= body_ended),
        pushed_after_completion=sum(1 for *_, began, _ in pushed if began > body_ended),
        executions=counter(client, EXECUTIONS_KEY.format(key=key)),
        records=_records(client, bound),
        distinct_results=distinct_results,
        results_identical=all(value == first for value in results),
        result=first,
        submit_wall_s=round(submitted, 3),
        done_wall_s=round(done, 3),
        push_ns=[elapsed for _, elapsed, *_ in pushed],
    )


def _end_to_end(task: RelierTask, arguments: itertools.count[int],
                timeout: float) -> Callable[[], object]:
    """One call: push a new index and wait for its result, polling state every `POLL_S`."""

    def call() -> object:
        index = next(arguments)
        handle = task.push(index)
        deadline = time.monotonic() + timeout
        while not handle.state.is_terminal:
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{task.name}({index}) not finished after {timeout} s")
            time.sleep(POLL_S)
        value = handle.result(timeout=0)
        if value != index:
            raise AssertionError(f"{task.name}({index}) returned {value!r}")
        return value

    return call


def _dispatch_only(task: RelierTask, arguments: itertools.count[int]) -> Callable[[], object]:
    def call() -> object:
        return task.push(next(arguments))

    return call


def method_lines(args: argparse.Namespace, server: str) -> dict[str, str]:
    worker = (f"one worker (prefork -c {WORKER_CONCURRENCY}, prefetch disabled), {server} on "
              "loopback (AOF everysec)")
    return {
        "duplicates": (
            f"{args.submissions} push() of ONE idempotent call (same args) from {args.threads} "
            f"threads released by a barrier; body INCRs a Redis counter and sleeps "
            f"{args.hold:g} s; ids from the handles, executions = counter after every "
            f"handle's result() + {args.settle:g} s settle; each push's wall-clock span "
            f"compared with the record's started/ended (server clock, same host); {worker}"
        ),
        "duplicate push()": (
            f"perf_counter_ns around each of the {args.submissions} duplicate push() calls above, "
            f"{args.threads} threads at once, worker running"
        ),
        "end-to-end": (
            f"interleaved, alternating order, {args.calls} distinct calls each, one at a time; "
            f"perf_counter_ns from before push() to the result (state polled every "
            f"{POLL_S * 1000:g} ms, then result()); no-op bodies; {args.warmup} warm-up calls "
            f"each; {worker}"
        ),
        "dispatch": (
            f"interleaved, alternating order, {args.dispatch_calls} distinct calls each, push() "
            f"only, perf_counter_ns per call, worker stopped (no consumer), {args.warmup} "
            f"warm-up calls each; {server} on loopback (AOF everysec)"
        ),
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_number(parser, "--submissions", 2000, "push() calls of the one idempotent call")
    add_number(parser, "--threads", 8, "threads submitting the duplicates")
    add_number(parser, "--hold", 0.2, "seconds the duplicate-submission body sleeps")
    add_number(parser, "--settle", 1.0, "wait after the last result before counting executions, s")
    add_number(parser, "--calls", 500, "end-to-end calls of each variant")
    add_number(parser, "--dispatch-calls", 2000, "push()-only calls of each variant")
    add_number(parser, "--warmup", 50, "untimed calls of each variant before each timed group")
    add_output_options(parser, NAME)
    add_check_option(parser, "the duplicate submissions produced more than one task id, task or "
                             "execution, or differing results")


@dataclass(frozen=True, slots=True)
class Measured:
    """Everything one run measured, before it is summarized."""

    machine: dict[str, Any]
    duplicates: Duplicates
    plain_e2e_ns: list[int]
    idem_e2e_ns: list[int]
    plain_push_ns: list[int]
    idem_push_ns: list[int]
    queued: int


def measure(args: argparse.Namespace, binary: Path, parent: Path) -> Measured:
    """Start a server and a worker, run both parts; the worker is stopped before dispatch."""
    timeout = 60.0
    with connected_server(parent / "server", binary) as (server, client):
        worker: CeleryWorker | None = None
        try:
            machine = describe_machine(client, binary)
            bound = make_app(server.url)
            worker = bench_worker("idempotency_worker.app", server.url, parent / "worker.log",
                                  concurrency=WORKER_CONCURRENCY).start().wait_ready()

            dup = duplicates(bound, client, submissions=args.submissions,
                             threads=args.threads, hold=args.hold, settle=args.settle,
                             timeout=timeout)

            idem_args = itertools.count(1_000_000)
            plain_args = itertools.count(1_000_000)
            idem_e2e = _end_to_end(bound.idem_noop, idem_args, timeout)
            plain_e2e = _end_to_end(bound.plain_noop, plain_args, timeout)
            warm_up([idem_e2e, plain_e2e], args.warmup)
            plain_e2e_ns, idem_e2e_ns = interleave(plain_e2e, idem_e2e, args.calls)

            worker.kill()
            worker = None
            time.sleep(0.5)  # the server drops the dead worker's blocked BRPOP first
            idem_push = _dispatch_only(bound.idem_noop, idem_args)
            plain_push = _dispatch_only(bound.plain_noop, plain_args)
            warm_up([idem_push, plain_push], args.warmup)
            plain_push_ns, idem_push_ns = interleave(plain_push, idem_push, args.dispatch_calls)
            messages = queued(client, bound.relier, bound.relier.settings.default_queue)
        finally:
            if worker is not None:
                worker.kill()
    return Measured(machine, dup, plain_e2e_ns, idem_e2e_ns, plain_push_ns, idem_push_ns,
                    messages)


def figures_and_tables(dup: Duplicates, rows: list[Row], methods: dict[str, str]
                       ) -> tuple[list[Figure], list[Table]]:
    """The page's figures (relier only: vanilla Celery has no idempotent tasks) and tables."""
    plain_e2e, idem_e2e, plain_push, idem_push, _ = rows
    figures = [
        Figure(f"idempotency: {dup.submissions:,} submissions of one call from {dup.threads} "
               "threads: body executions", "", methods["duplicates"],
               relier=dup.executions),
        Figure("idempotency: distinct task ids among those submissions", "",
               methods["duplicates"], relier=dup.distinct_task_ids),
        Figure("idempotent=True cost: push -> result p50, idempotent ÷ plain", "x",
               methods["end-to-end"], relier=round(idem_e2e.ratio_p50 or 0.0, 3)),
        Figure("idempotent=True cost: push() p50, idempotent ÷ plain", "x",
               methods["dispatch"], relier=round(idem_push.ratio_p50 or 0.0, 3)),
    ]
    tables = [
        table("duplicate submissions of one idempotent call", methods["duplicates"],
              ("submissions", "threads", "task ids", "created", "body executions",
               "results identical", "returned before the body", "during it", "after it"),
              [(f"{dup.submissions:,}", dup.threads, dup.distinct_task_ids, dup.created,
                dup.executions, "yes" if dup.results_identical else "NO",
                dup.pushed_before_start, dup.pushed_while_running,
                dup.pushed_after_completion)]),
        stats_table("push -> result, idempotent vs plain", [plain_e2e, idem_e2e], "ms",
                    count_label="tasks"),
        stats_table("push() alone, idempotent vs plain", [plain_push, idem_push], "us",
                    count_label="calls"),
    ]
    return figures, tables


def run(args: argparse.Namespace) -> int:
    if min(args.submissions, args.threads, args.calls, args.dispatch_calls) < 1 or (
            args.warmup < 0 or args.hold < 0 or args.settle < 0):
        raise SystemExit("--submissions, --threads, --calls, --dispatch-calls must be >= 1; "
                         "--warmup, --hold, --settle >= 0")
    started = now_utc()
    binary = server_binary(args.server)
    with tempfile.TemporaryDirectory(prefix="relier-bench-idempotency-") as tmp:
        measured = measure(args, binary, Path(tmp))
    machine, dup, queued = measured.machine, measured.duplicates, measured.queued

    methods = method_lines(args, server_label(machine))
    dup_row = Row("duplicate push()", f"same idempotent call, {args.threads} threads",
                  methods["duplicate push()"], summarize(dup.push_ns))
    plain_e2e_row = Row("end-to-end", "plain_noop push -> result", methods["end-to-end"],
                        summarize(measured.plain_e2e_ns))
    idem_e2e_row = compared("end-to-end", "idem_noop push -> result", methods["end-to-end"],
                            summarize(measured.idem_e2e_ns), plain_e2e_row)
    plain_push_row = Row("dispatch", "plain_noop push()", methods["dispatch"],
                         summarize(measured.plain_push_ns))
    idem_push_row = compared("dispatch", "idem_noop push()", methods["dispatch"],
                             summarize(measured.idem_push_ns), plain_push_row)
    rows = [plain_e2e_row, idem_e2e_row, plain_push_row, idem_push_row, dup_row]
    expected_queued = 2 * (args.warmup + args.dispatch_calls)
    figures, tables = figures_and_tables(dup, rows, methods)
    overhead = {
        "end_to_end_ratio_p50": idem_e2e_row.ratio_p50,
        "end_to_end_ratio_p99": idem_e2e_row.stats.p99_ns / plain_e2e_row.stats.p99_ns,
        "dispatch_ratio_p50": idem_push_row.ratio_p50,
        "dispatch_ratio_p99": idem_push_row.stats.p99_ns / plain_push_row.stats.p99_ns,
    }
    target = Target(f"{args.submissions} concurrent submissions of one idempotent call: 1 task "
                    "id, 1 task created, 1 body execution, identical results", dup.met)
    report = [
        f"idempotency: duplicates and overhead ({machine_summary(machine)})",
        f"[duplicates] {methods['duplicates']}",
        f"  submissions {dup.submissions}, distinct task ids {dup.distinct_task_ids}, "
        f"tasks created {dup.created} (existing {dup.existing}), body executions "
        f"{dup.executions}, task records {dup.records}, results identical "
        f"{dup.results_identical} ({dup.distinct_results} distinct: {dup.result!r}); "
        f"submitted in {dup.submit_wall_s:.2f} s, all results in {dup.done_wall_s:.2f} s",
        f"  pushes returned before the body started {dup.pushed_before_start}, overlapping "
        f"the body {dup.pushed_while_running}, begun after it completed "
        f"{dup.pushed_after_completion}",
        format_table("end-to-end latency, idempotent vs plain", rows[:2], unit="ms",
                     count_label="tasks"),
        format_table("push() latency", rows[2:], unit="us"),
        f"target: 1 task id, 1 created, 1 execution, identical results: {target.verdict}",
        f"overhead idempotent/plain: end-to-end p50 {idem_e2e_row.ratio_p50:.2f}x, p99 "
        f"{overhead['end_to_end_ratio_p99']:.2f}x; push() p50 "
        f"{idem_push_row.ratio_p50:.2f}x, p99 {overhead['dispatch_ratio_p99']:.2f}x",
    ]
    if queued != expected_queued:
        report.append(f"warning: {queued} messages queued after the dispatch group, expected "
                      f"{expected_queued}")
    publish(NAME, args.json_out, started, report,
            description="duplicate submissions of one idempotent call; per-task overhead of "
                        "idempotent=True vs the same no-op task without it",
            config={"submissions": args.submissions, "threads": args.threads,
                    "hold_s": args.hold, "settle_s": args.settle, "calls": args.calls,
                    "dispatch_calls": args.dispatch_calls, "warmup": args.warmup,
                    "worker": f"prefork -c {WORKER_CONCURRENCY}", "poll_s": POLL_S,
                    "tasks": ["bench.idem_counted", "bench.idem_noop", "bench.plain_noop"]},
            machine=machine, figures=figures, tables=tables,
            duplicates={"method": methods["duplicates"],
                        **{k: v for k, v in asdict(dup).items() if k != "push_ns"}},
            results=[row.to_json() for row in rows], overhead=overhead, target=target.to_json(),
            checks={"messages_expected": expected_queued, "messages_queued": queued})
    return target.exit_status(args.check, broken=queued != expected_queued)


BENCHMARK = Benchmark(
    name=NAME,
    help="submit one idempotent call 2,000 times from 8 threads and count executions; time "
         "idempotent=True against the same no-op task without it",
    add_arguments=add_arguments,
    run=run,
    scale={"submissions": 2_000},
)
