"""Admission overhead: relier's ``push()`` with and without admission limits on the queue.

One Redis-compatible server is started for the run (loopback, AOF on, as
`relier.testing.RedisServer` configures it). One app has relier bound and three tasks of the
same shape (a no-op), each on its own queue:

- ``free``: a queue with no limits at all (the baseline);
- ``declared``: a queue with generous limits declared in code
  (``Relier(app, admission={...: Admission(rate=1e6, burst=1e6, max_depth=1e9)})``), so the
  dispatch script runs the GCRA bucket and the depth check but never rejects;
- ``live``: a queue with the same generous limits set live in Redis (``set_limits``, what
  ``rl admission set`` does), which the script reads on every push.

After warm-up calls, the three are timed one after the other, rotating which goes first, with
``time.perf_counter_ns`` around each call. A fourth task, on a queue limited to 0.001 pushes per
second with a burst of 1 (exhausted during warm-up), times the rejection path: every timed push
raises ``AdmissionRejectedError``, caught inside the timed call. Nothing consumes the queues;
their lists, relier's records, admission state and event stream are deleted at the end.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence

import redis
from celery import Celery

from bench import Benchmark
from bench.figures import Figure, Table, stats_table
from bench.options import add_check_option, add_number, add_output_options
from bench.redis_state import delete_matching, queue_lists, queued
from bench.report import Row, compared, format_table, summarize
from bench.result_files import Target, machine_summary, now_utc, publish, server_label
from bench.senders import bind_relier, sending_app
from bench.servers import describe_machine, temporary_connected_server
from bench.timing import warm_up
from relier import AdmissionRejectedError
from relier.admission import Admission, set_limits
from relier.binding import Relier
from relier.task import RelierTask
from relier.testing import server_binary

NAME = "admission"
FREE_QUEUE = "bench-adm-free"
DECLARED_QUEUE = "bench-adm-declared"
LIVE_QUEUE = "bench-adm-live"
REJECT_QUEUE = "bench-adm-reject"
QUEUES = (FREE_QUEUE, DECLARED_QUEUE, LIVE_QUEUE, REJECT_QUEUE)
GENEROUS = Admission(rate=1e6, burst=10**6, max_depth=10**9)
REJECTING = Admission(rate=0.001, burst=1)
#: The goal: push() with limits at most this many times push() without, at the median.
TARGET_P50_RATIO = 1.1


def noop() -> None:
    """Every task's body; never runs here (nothing consumes the queues)."""


def build(url: str) -> tuple[Celery, Relier, dict[str, RelierTask]]:
    app = sending_app("bench-admission", url, task_default_queue=FREE_QUEUE)
    relier = bind_relier(app, url, admission={DECLARED_QUEUE: GENEROUS, REJECT_QUEUE: REJECTING})
    tasks = {queue: relier.task(name=f"bench.{queue}", queue=queue)(noop) for queue in QUEUES}
    set_limits(relier.store, "queue", LIVE_QUEUE, rate=GENEROUS.rate, burst=GENEROUS.burst,
               max_depth=GENEROUS.max_depth)
    return app, relier, tasks


def rotate(calls: Sequence[Callable[[], object]], count: int) -> list[list[int]]:
    """Time `count` calls of each, rotating which one goes first every round."""
    timings: list[list[int]] = [[] for _ in calls]
    clock = time.perf_counter_ns
    width = len(calls)
    for index in range(count):
        for offset in range(width):
            which = (index + offset) % width
            start = clock()
            calls[which]()
            timings[which].append(clock() - start)
    return timings


def rejected_push(task: RelierTask) -> Callable[[], object]:
    def call() -> object:
        try:
            task.push()
        except AdmissionRejectedError as error:
            return error
        raise AssertionError("a push to the rejecting queue was admitted")

    return call


def clean_up(client: redis.Redis, relier: Relier) -> int:
    """Delete the queues' lists, bindings, admission state, records and event stream."""
    keys: list[str | bytes] = [relier.keys.events]
    for queue in QUEUES:
        keys += queue_lists(relier, queue)
        keys.append(f"_kombu.binding.{queue}")
    deleted: int = client.delete(*keys)
    deleted += client.delete(relier.keys.admission_live)
    for pattern in (relier.keys.record("*"),
                    relier.keys.legacy_admission_limits("queue", "*") + "*"):
        deleted += delete_matching(client, pattern)
    return deleted


def figures_and_tables(rows: Sequence[Row], worst_ratio: float) -> tuple[list[Figure], list[Table]]:
    """The page's figures (relier only: vanilla Celery has no admission control) and table."""
    free, declared, live, rejected = rows
    figures = [
        Figure("admission: push() with limits ÷ without, p50 (worst of declared, live)", "x",
               declared.method, relier=round(worst_ratio, 3)),
        Figure("admission: push() with declared limits, p99", "µs", declared.method,
               relier=round(declared.stats.p99_ns / 1e3, 1)),
        Figure("admission: push() with live limits, p50", "µs", live.method,
               relier=round(live.stats.p50_ns / 1e3, 1)),
        Figure("admission: push() rejected, p50", "µs", rejected.method,
               relier=round(rejected.stats.p50_ns / 1e3, 1)),
    ]
    table = stats_table("push() with and without admission limits",
                        [free, declared, live, rejected], "us", count_label="calls",
                        method=rejected.method)
    return figures, [table]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_number(parser, "--calls", 5000, "timed calls of each variant")
    add_number(parser, "--warmup", 200, "untimed calls of each variant before timing")
    add_output_options(parser, NAME)
    add_check_option(parser, f"push() with limits exceeds {TARGET_P50_RATIO}x push() without at p50")


def run(args: argparse.Namespace) -> int:
    calls: int = args.calls
    warmup: int = args.warmup
    if calls < 1 or warmup < 1:
        raise SystemExit("--calls and --warmup must be >= 1")
    started = now_utc()
    binary = server_binary(args.server)
    with temporary_connected_server(binary, "relier-bench-admission-") as (server, client):
        machine = describe_machine(client, binary)
        label = server_label(machine)
        _app, relier, tasks = build(server.url)
        reject = rejected_push(tasks[REJECT_QUEUE])
        admitted = [tasks[FREE_QUEUE].push, tasks[DECLARED_QUEUE].push,
                    tasks[LIVE_QUEUE].push]
        tasks[REJECT_QUEUE].push()  # spends the burst of 1: every later push is rejected
        warm_up([*admitted, reject], warmup)
        free_ns, declared_ns, live_ns, reject_ns = rotate([*admitted, reject], calls)
        lengths = {queue: queued(client, relier, queue) for queue in QUEUES}
        deleted = clean_up(client, relier)

    method = (
        f"no-op task, one queue per variant, interleaved rotating order, {calls} calls each, "
        f"same {label} server on loopback (AOF everysec), warm connections ({warmup} "
        "warm-up calls each), perf_counter_ns per call, no consumer"
    )
    baseline = Row("admitted", "push(), no limits", method, summarize(free_ns))
    rows = [
        baseline,
        compared("admitted", "push(), declared limits", method, summarize(declared_ns),
                 baseline),
        compared("admitted", "push(), live limits", method, summarize(live_ns), baseline),
        compared("rejected", "push(), rejected", method + "; rejected: a queue limited to "
                 "0.001/s, burst 1 (spent), AdmissionRejectedError caught inside the timed call",
                 summarize(reject_ns), baseline),
    ]
    ratios = [row.ratio_p50 for row in rows[1:3]]
    if None in ratios:
        raise AssertionError("a limited row has no ratio")
    worst = max(ratio for ratio in ratios if ratio is not None)
    target = Target.p50_ratio(f"push() with limits (declared and live) p50 <= {TARGET_P50_RATIO}x "
                              "push() without limits p50", TARGET_P50_RATIO, worst)
    figures, tables = figures_and_tables(rows, worst)
    expected = {FREE_QUEUE: calls + warmup, DECLARED_QUEUE: calls + warmup,
                LIVE_QUEUE: calls + warmup, REJECT_QUEUE: 1}
    report = [format_table(f"admission: relier push() with and without limits "
                           f"({machine_summary(machine)})", rows),
              f"target: push() with limits p50 <= {TARGET_P50_RATIO}x without: measured "
              f"{worst:.2f}x (worst of declared, live), {target.verdict}"]
    if lengths != expected:
        report.append(f"warning: queued {lengths}, expected {expected}")
    publish(NAME, args.json_out, started, report,
            description="relier push() with and without admission limits; rejection path",
            config={"calls": calls, "warmup": warmup, "queues": list(QUEUES),
                    "generous": {"rate": GENEROUS.rate, "burst": GENEROUS.burst,
                                 "max_depth": GENEROUS.max_depth},
                    "rejecting": {"rate": REJECTING.rate, "burst": REJECTING.burst}},
            machine=machine, figures=figures, tables=tables,
            results=[row.to_json() for row in rows], target=target.to_json(),
            checks={"messages_expected": expected, "messages_queued": lengths,
                    "keys_deleted": deleted})
    return target.exit_status(args.check, broken=lengths != expected)


BENCHMARK = Benchmark(
    name=NAME,
    help="time relier push() with and without admission limits, and the rejection path",
    add_arguments=add_arguments,
    run=run,
    scale={"calls": 50_000},
)
