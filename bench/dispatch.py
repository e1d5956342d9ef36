"""Dispatch latency: relier's ``push()``/``apush()`` against Celery's ``delay()``.

Both sides send the same no-op task to the queue ``bench`` on one Redis server started for the
run (loopback, AOF on, as `relier.testing.RedisServer` configures it). Each side first makes
warm-up calls so connection setup, queue declaration and script loading are not timed. Then the
two calls are timed one after the other, alternating which goes first, with
``time.perf_counter_ns`` around each call. Nothing consumes the queue; the messages, relier's
records and its event stream are deleted at the end.

Figures: a sync group (``delay()`` vs ``push()``) and an asyncio group (``delay()`` vs awaited
``apush()``, sequentially, inside one event loop). Ratios compare relier to vanilla Celery
within the same group of the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import redis
from celery import Celery

from bench import Benchmark
from bench.figures import SAME_AS_VANILLA, Figure, Table, stats_table
from bench.options import add_check_option, add_number, add_output_options
from bench.redis_state import delete_matching, queue_lists, queued
from bench.report import Row, compared, format_table, summarize
from bench.result_files import Target, machine_summary, now_utc, publish, server_label
from bench.senders import bind_relier, sending_app
from bench.servers import describe_machine, temporary_connected_server
from bench.timing import interleave, warm_up
from relier.binding import Relier
from relier.task import RelierTask
from relier.testing import server_binary

NAME = "dispatch"
QUEUE = "bench"
VANILLA_TASK = "bench.vanilla_noop"
RELIER_TASK = "bench.relier_noop"
#: The goal: push() at most this many times vanilla delay() at the median.
TARGET_P50_RATIO = 1.2


def noop() -> None:
    """The task body on both sides; never runs here (nothing consumes the queue)."""


@dataclass(frozen=True, slots=True)
class Subjects:
    """The two apps under test, bound to one server."""

    vanilla_app: Celery
    relier_app: Celery
    relier: Relier
    vanilla_task: Any
    relier_task: RelierTask


def build_subjects(url: str) -> Subjects:
    """Both apps get the same Celery configuration; only the relier one has relier bound."""
    vanilla_app = sending_app("bench-vanilla", url, task_default_queue=QUEUE)
    vanilla_task = vanilla_app.task(name=VANILLA_TASK, queue=QUEUE)(noop)
    relier_app = sending_app("bench-relier", url, task_default_queue=QUEUE)
    relier = bind_relier(relier_app, url)
    relier_task = relier.task(name=RELIER_TASK, queue=QUEUE)(noop)
    return Subjects(vanilla_app, relier_app, relier, vanilla_task, relier_task)


async def interleave_async(
    sync_call: Callable[[], object], async_call: Callable[[], Awaitable[object]], calls: int
) -> tuple[list[int], list[int]]:
    """As `interleave`, inside a running loop: the async call is awaited, one at a time."""
    sync_ns: list[int] = []
    async_ns: list[int] = []
    clock = time.perf_counter_ns
    for index in range(calls):
        if index % 2 == 0:
            start = clock()
            sync_call()
            middle = clock()
            await async_call()
            end = clock()
            sync_ns.append(middle - start)
            async_ns.append(end - middle)
        else:
            start = clock()
            await async_call()
            middle = clock()
            sync_call()
            end = clock()
            async_ns.append(middle - start)
            sync_ns.append(end - middle)
    return sync_ns, async_ns


def run_sync_group(subjects: Subjects, calls: int, warmup: int) -> tuple[list[int], list[int]]:
    warm_up([subjects.vanilla_task.delay, subjects.relier_task.push], warmup)
    return interleave(subjects.vanilla_task.delay, subjects.relier_task.push, calls)


def run_async_group(subjects: Subjects, calls: int, warmup: int) -> tuple[list[int], list[int]]:
    """Warm-up and timing share one event loop: relier's asyncio client belongs to its loop."""

    async def body() -> tuple[list[int], list[int]]:
        for _ in range(warmup):
            subjects.vanilla_task.delay()
            await subjects.relier_task.apush()
        gc.collect()
        return await interleave_async(
            subjects.vanilla_task.delay, subjects.relier_task.apush, calls
        )

    return asyncio.run(body())


def clean_up(client: redis.Redis, relier: Relier) -> int:
    """Delete the queue's lists, kombu's binding set, relier's records and event stream."""
    keys: list[str | bytes] = [*queue_lists(relier, QUEUE), f"_kombu.binding.{QUEUE}",
                               relier.keys.events]
    deleted: int = client.delete(*keys)
    return deleted + delete_matching(client, relier.keys.record("*"))


def figures_and_tables(rows: list[Row]) -> tuple[list[Figure], list[Table]]:
    """The page's figures: relier's call beside vanilla delay(), per group, p50 and p99 (µs)."""
    figures: list[Figure] = []
    tables: list[Table] = []
    for group, name in (("sync", "dispatch: push() vs delay()"),
                        ("asyncio", "dispatch from asyncio: apush() vs delay()")):
        members = [row for row in rows if row.group == group]
        if len(members) != 2:
            continue  # --no-async
        vanilla, relier = members
        for label, attribute in (("p50", "p50_ns"), ("p99", "p99_ns")):
            figures.append(Figure(f"{name}, {label}", "µs", relier.method,
                                  relier=round(getattr(relier.stats, attribute) / 1e3, 1),
                                  vanilla=round(getattr(vanilla.stats, attribute) / 1e3, 1),
                                  vanilla_acks_late=SAME_AS_VANILLA))
        tables.append(stats_table(name, [vanilla, relier], "us", count_label="calls"))
    return figures, tables


def method_line(kind: str, calls: int, warmup: int, server: str) -> str:
    return (
        f"{kind}: interleaved, alternating order, {calls} calls each, same {server} server on "
        f"loopback (AOF everysec), warm connections ({warmup} warm-up calls each), "
        "perf_counter_ns per call, no consumer"
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_number(parser, "--calls", 5000, "timed calls of each side in each group")
    add_number(parser, "--warmup", 200, "untimed calls of each side before timing")
    add_output_options(parser, NAME)
    parser.add_argument("--no-async", action="store_true",
                        help="skip the asyncio group (apush vs delay)")
    add_check_option(parser, f"push() p50 exceeds {TARGET_P50_RATIO}x delay() p50")


def run(args: argparse.Namespace) -> int:
    calls: int = args.calls
    warmup: int = args.warmup
    if calls < 1 or warmup < 0:
        raise SystemExit("--calls must be >= 1 and --warmup >= 0")
    started = now_utc()
    binary = server_binary(args.server)
    with temporary_connected_server(binary, "relier-bench-") as (server, client):
        machine = describe_machine(client, binary)
        label = server_label(machine)
        subjects = build_subjects(server.url)

        vanilla_ns, push_ns = run_sync_group(subjects, calls, warmup)
        sync_method = method_line("delay() vs push()", calls, warmup, label)
        vanilla_row = Row("sync", "vanilla delay()", sync_method, summarize(vanilla_ns))
        rows = [vanilla_row, compared("sync", "relier push()", sync_method,
                                      summarize(push_ns), vanilla_row)]
        groups = 1
        if not args.no_async:
            vanilla_async_ns, apush_ns = run_async_group(subjects, calls, warmup)
            async_method = method_line(
                "delay() vs apush() awaited one at a time in one asyncio loop",
                calls, warmup, label,
            )
            vanilla_async = Row("asyncio", "vanilla delay()", async_method,
                                summarize(vanilla_async_ns))
            rows += [vanilla_async, compared("asyncio", "relier apush()", async_method,
                                             summarize(apush_ns), vanilla_async)]
            groups = 2

        expected = groups * 2 * (calls + warmup)
        messages = queued(client, subjects.relier, QUEUE)
        deleted = clean_up(client, subjects.relier)

    ratio = rows[1].ratio_p50
    if ratio is None:
        raise AssertionError("push() row has no ratio to delay()")
    figures, tables = figures_and_tables(rows)
    target = Target.p50_ratio(f"push() p50 <= {TARGET_P50_RATIO}x vanilla delay() p50",
                              TARGET_P50_RATIO, ratio)
    report = [format_table(f"dispatch: relier vs vanilla Celery, no-op task, queue {QUEUE!r} "
                           f"({machine_summary(machine)})", rows),
              f"target: push() p50 <= {TARGET_P50_RATIO}x delay() p50: measured "
              f"{ratio:.2f}x, {target.verdict}"]
    if messages != expected:
        report.append(f"warning: {messages} messages in the queue, expected {expected}")
    publish(NAME, args.json_out, started, report,
            description="relier push()/apush() vs vanilla Celery delay() of the same no-op task",
            config={"calls": calls, "warmup": warmup, "queue": QUEUE,
                    "vanilla_task": VANILLA_TASK, "relier_task": RELIER_TASK},
            machine=machine, figures=figures, tables=tables,
            results=[row.to_json() for row in rows], target=target.to_json(),
            checks={"messages_expected": expected, "messages_queued": messages,
                    "keys_deleted": deleted})
    return target.exit_status(args.check, broken=messages != expected)


BENCHMARK = Benchmark(
    name=NAME,
    help="time relier push()/apush() against vanilla Celery delay() on one Redis server",
    add_arguments=add_arguments,
    run=run,
    scale={"calls": 50_000},
)
