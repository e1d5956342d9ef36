"""Recovery under real kills: how fast relier re-runs a killed task, and what survives kills.

Every figure comes from real ``celery worker`` processes (prefork) on a Redis-compatible server
started for the run on loopback, with ``RELIER_LEASE_TTL=2`` and
``RELIER_LEASE_REFRESH_INTERVAL=0.5``. Processes are killed with SIGKILL; nothing is simulated.

1. child death: one relier worker (``-c 2``). A task's first attempt records its pid and body
   start time in Redis and sleeps; the benchmark SIGKILLs that pool process and times
   ``time.time()`` just before ``os.kill`` to the body start of attempt 2 (``time.time()`` in
   the task; same host clock).
2. whole-worker death: two relier workers and a resurrector (``rl run-resurrector``). The worker
   running attempt 1 is killed as a process group; timed from just before ``os.killpg`` to the
   body start of attempt 2 on the surviving worker. The killed worker is then replaced.
3. delivery under kills: relier vs vanilla Celery (defaults) vs vanilla with
   ``task_acks_late=True`` + ``task_reject_on_worker_lost=True``; N tasks of the same body
   (sleep), K SIGKILLs of a pool process running one of them; each vanilla arm on its own
   fresh server (relier's parts share one: its ready app reads its settings once per process).
   Executions and completions are counted in Redis per task id; the wait for completions is
   bounded, so tasks a system lost for good are reported as lost.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import signal
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import redis

from bench import Benchmark
from bench.options import add_output_options
from bench.redis_state import arm_counts, attempt_start, wait_for_completions
from bench.report import (
    Row,
    column_formatter,
    format_table,
    machine_summary,
    now_utc,
    print_written,
    server_label,
    summarize,
    write_results,
)
from bench.senders import vanilla_pusher
from bench.servers import probe_machine, running_server
from bench.workers import ARMS, bench_worker, parent_pid, resurrector, vanilla_worker
from relier.testing import CeleryWorker, server_binary, wait_until

NAME = "recovery"
LEASE_TTL = 2.0
FAST_LEASES = {"RELIER_LEASE_TTL": str(LEASE_TTL), "RELIER_LEASE_REFRESH_INTERVAL": "0.5",
               "RELIER_RESURRECTOR_INTERVAL": "0.2"}
#: Target for whole-worker death: attempt 2 starts within the lease TTL plus this, at p99.
TARGET_SLACK_S = 1.0


@dataclass(frozen=True, slots=True)
class Delivery:
    """What one arm of the delivery test ended with."""

    arm: str
    tasks: int
    kills: int
    completed: int
    lost: int
    executions: int
    extra_executions: int
    duplicate_completions: int
    waited_s: float


def _attempt(client: redis.Redis, task_id: str, attempt: int, timeout: float) -> tuple[int, float]:
    return wait_until(
        lambda: attempt_start(client, task_id, attempt), timeout=timeout, interval=0.005,
        message=f"attempt {attempt} of {task_id} never started",
    )


def _relier_tasks(url: str) -> Any:
    """The bench task module, imported in this process against `url` (for push())."""
    os.environ["RELIER_REDIS_URL"] = url
    return importlib.import_module("bench.apps.recovery_tasks")


def _relier_worker(url: str, log_dir: Path, name: str) -> CeleryWorker:
    return bench_worker("relier.tasks.app", url, log_dir / f"{name}.log",
                        include=["recovery_tasks"], concurrency=2, env=FAST_LEASES)


def child_death(url: str, log_dir: Path, kills: int) -> list[int]:
    """Kill -> attempt-2 body start, in ns, for `kills` SIGKILLed pool processes."""
    tasks = _relier_tasks(url)
    client = redis.Redis.from_url(url)
    worker = _relier_worker(url, log_dir, "child-death").start().wait_ready()
    latencies: list[int] = []
    try:
        for _ in range(kills):
            handle = tasks.hold.push(60)
            pid, _ = _attempt(client, handle.id, 1, timeout=30)
            killed_at = time.time()
            os.kill(pid, signal.SIGKILL)
            _, started = _attempt(client, handle.id, 2, timeout=30)
            latencies.append(round((started - killed_at) * 1e9))
            handle.result(timeout=30)
    finally:
        worker.kill()
        client.close()
    return latencies


def worker_death(url: str, log_dir: Path, kills: int) -> list[int]:
    """Kill of a whole worker -> attempt-2 body start on the other worker, in ns."""
    tasks = _relier_tasks(url)
    client = redis.Redis.from_url(url)
    workers = [_relier_worker(url, log_dir, f"whole-{i}").start() for i in range(2)]
    latencies: list[int] = []
    try:
        for worker in workers:
            worker.wait_ready()
        with resurrector(url, log_dir / "resurrector.log", FAST_LEASES):
            for index in range(kills):
                handle = tasks.hold.push(60)
                pid, _ = _attempt(client, handle.id, 1, timeout=30)
                victim = next(w for w in workers if w.pid == parent_pid(pid))
                killed_at = time.time()
                os.killpg(victim.pid, signal.SIGKILL)
                _, started = _attempt(client, handle.id, 2, timeout=60)
                latencies.append(round((started - killed_at) * 1e9))
                handle.result(timeout=30)
                victim.kill()
                replacement = _relier_worker(url, log_dir, f"whole-r{index}").start()
                workers[workers.index(victim)] = replacement
                replacement.wait_ready()
    finally:
        for worker in workers:
            worker.kill()
        client.close()
    return latencies


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _kill_running(client: redis.Redis, arm: str, *, kills: int, gap: float,
                  killed: set[int], timeout: float) -> int:
    """SIGKILL up to `kills` pool processes seen running a task of `arm`, `gap` s apart."""
    done = 0
    deadline = time.monotonic() + timeout
    while done < kills and time.monotonic() < deadline:
        running = client.hgetall(f"bench:running:{arm}")
        candidates = [int(pid) for pid in running.values()
                      if int(pid) not in killed and _alive(int(pid))]
        if not candidates:
            time.sleep(0.01)
            continue
        pid = candidates[0]
        killed.add(pid)
        os.kill(pid, signal.SIGKILL)
        done += 1
        time.sleep(gap)
    return done


def _delivery_arm(arm: str, url: str, log_dir: Path, *, tasks: int, kills: int, seconds: float,
                  settle: float, cap: float) -> Delivery:
    client = redis.Redis.from_url(url)
    if arm == "relier":
        module = _relier_tasks(url)
        worker = _relier_worker(url, log_dir, f"delivery-{arm}")
        push: Callable[[], str] = lambda: str(module.work.push(arm, seconds).id)  # noqa: E731
    else:
        worker = vanilla_worker(arm, url, log_dir / f"delivery-{arm}.log", concurrency=2)
        push = vanilla_pusher(arm, url, seconds)
    worker.start().wait_ready()
    try:
        ids = [push() for _ in range(tasks)]
        killed: set[int] = set()
        done_kills = _kill_running(client, arm, kills=kills, gap=seconds * 1.5, killed=killed,
                                   timeout=cap)
        waited = wait_for_completions(client, arm, ids, settle=settle, cap=cap)
        exec_counts = arm_counts(client, arm, ids, "exec")
        done_counts = arm_counts(client, arm, ids, "done")
    finally:
        worker.kill()
        client.close()
    completed_ids = sum(1 for count in done_counts if count > 0)
    return Delivery(
        arm=arm, tasks=tasks, kills=done_kills, completed=completed_ids,
        lost=tasks - completed_ids, executions=sum(exec_counts),
        extra_executions=sum(max(count - 1, 0) for count in exec_counts),
        duplicate_completions=sum(1 for count in done_counts if count > 1),
        waited_s=round(waited, 3),
    )


def format_delivery(title: str, method: str, results: list[Delivery]) -> str:
    headers = ("arm", "tasks", "kills", "completed", "lost", "executions", "extra exec",
               "dup completions")
    body = [(d.arm, str(d.tasks), str(d.kills), str(d.completed), str(d.lost),
             str(d.executions), str(d.extra_executions), str(d.duplicate_completions))
            for d in results]
    line = column_formatter([headers, *body])
    return "\n".join([title, f"[delivery] {method}", line(headers), *map(line, body)])


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kills", type=int, default=10,
                        help="pool-process kills timed for child-death recovery (default: 10)")
    parser.add_argument("--worker-kills", type=int, default=3,
                        help="whole-worker kills timed (default: 3)")
    parser.add_argument("--tasks", type=int, default=20,
                        help="tasks per arm of the delivery test (default: 20)")
    parser.add_argument("--delivery-kills", type=int, default=3,
                        help="pool-process kills per arm of the delivery test (default: 3)")
    parser.add_argument("--task-seconds", type=float, default=0.5,
                        help="sleep in each delivery task (default: 0.5)")
    parser.add_argument("--settle", type=float, default=8.0,
                        help="stop waiting for an arm after this long without progress "
                             "(default: 8)")
    parser.add_argument("--max-wait", type=float, default=60.0,
                        help="longest wait for an arm's completions (default: 60)")
    parser.add_argument("--skip", choices=("child", "worker", "delivery"), action="append",
                        default=[], help="skip a part (repeatable)")
    add_output_options(parser, NAME)
    parser.add_argument("--check", action="store_true",
                        help="exit 1 when whole-worker p99 exceeds the lease TTL + 1 s or "
                             "relier loses a task")


def run(args: argparse.Namespace) -> int:
    if min(args.kills, args.worker_kills, args.tasks, args.delivery_kills) < 1:
        raise SystemExit("--kills, --worker-kills, --tasks and --delivery-kills must be >= 1")
    started = now_utc()
    binary = server_binary(args.server)
    rows: list[Row] = []
    samples: dict[str, list[int]] = {}
    deliveries: list[Delivery] = []
    with contextlib.ExitStack() as stack:
        parent = Path(stack.enter_context(
            tempfile.TemporaryDirectory(prefix="relier-bench-recovery-")))
        # relier's ready app reads its settings once per process, so every relier part shares
        # one server; each vanilla arm gets a fresh one.
        relier_server = stack.enter_context(running_server(parent / "relier", binary))
        machine = probe_machine(relier_server, binary)
        relier_url = relier_server.url
        common = (f"prefork -c 2, lease TTL {LEASE_TTL:g} s, refresh 0.5 s, "
                  f"{server_label(machine)} on "
                  "loopback; from time.time() just before the kill to time.time() at the start "
                  "of attempt 2's body")
        if "child" not in args.skip:
            latencies = child_death(relier_url, parent, args.kills)
            samples["child death"] = latencies
            rows.append(Row("child death", "relier, pool process SIGKILL", (
                f"{args.kills} SIGKILLs of the pool process running attempt 1, one worker, "
                + common), summarize(latencies)))
        if "worker" not in args.skip:
            latencies = worker_death(relier_url, parent, args.worker_kills)
            samples["whole-worker death"] = latencies
            rows.append(Row("whole-worker death", "relier, worker killpg SIGKILL", (
                f"{args.worker_kills} SIGKILLs of the whole worker process group running "
                "attempt 1, a second worker idle and a resurrector (interval 0.2 s) running, "
                + common), summarize(latencies)))
        delivery_method = (
            f"{args.tasks} tasks sleeping {args.task_seconds:g} s pushed at once to one "
            f"prefork -c 2 worker, {args.delivery_kills} SIGKILLs of a pool process running "
            "a task; executions (INCR at body start) and completions (INCR + SADD at body end) "
            f"counted per task id; wait stops at all completed, {args.settle:g} s without "
            f"progress or {args.max_wait:g} s; fresh server per vanilla arm"
        )
        if "delivery" not in args.skip:
            for arm in ARMS:
                with contextlib.ExitStack() as arm_stack:
                    url = relier_url if arm == "relier" else arm_stack.enter_context(
                        running_server(parent / f"delivery-{arm}", binary)).url
                    deliveries.append(_delivery_arm(
                        arm, url, parent, tasks=args.tasks, kills=args.delivery_kills,
                        seconds=args.task_seconds, settle=args.settle, cap=args.max_wait))

    whole = next((row for row in rows if row.group == "whole-worker death"), None)
    limit_ns = (LEASE_TTL + TARGET_SLACK_S) * 1e9
    whole_met = None if whole is None else whole.stats.p99_ns <= limit_ns
    relier_lost = next((d.lost for d in deliveries if d.arm == "relier"), None)
    payload: dict[str, Any] = {
        "benchmark": NAME,
        "description": "recovery latency and delivery of tasks whose processes are SIGKILLed",
        "config": {"kills": args.kills, "worker_kills": args.worker_kills, "tasks": args.tasks,
                   "delivery_kills": args.delivery_kills, "task_seconds": args.task_seconds,
                   "settle_s": args.settle, "max_wait_s": args.max_wait, **FAST_LEASES},
        "machine": machine,
        "results": [row.to_json() for row in rows],
        "samples_ms": {group: [round(value / 1e6, 1) for value in values]
                       for group, values in samples.items()},
        "delivery": {"method": delivery_method,
                     "arms": [asdict(delivery) for delivery in deliveries]},
        "target": {
            "statement": f"whole-worker death: kill -> attempt 2 p99 <= lease TTL "
                         f"({LEASE_TTL:g} s) + {TARGET_SLACK_S:g} s",
            "max_p99_s": LEASE_TTL + TARGET_SLACK_S,
            "measured_p99_s": None if whole is None else whole.stats.p99_ns / 1e9,
            "met": whole_met,
        },
    }
    written = write_results(NAME, payload, args.json_out, started)

    title = f"recovery: relier under SIGKILL ({machine_summary(machine)})"
    if rows:
        print(format_table(title, rows, unit="ms", count_label="kills"))
    if deliveries:
        print(format_delivery("delivery under kills: relier vs vanilla Celery",
                              delivery_method, deliveries))
    if whole is not None:
        verdict = "met" if whole_met else "NOT met"
        print(f"target: whole-worker kill -> attempt 2 p99 <= {LEASE_TTL + TARGET_SLACK_S:g} s: "
              f"measured {whole.stats.p99_ns / 1e9:.3f} s, {verdict}")
    print_written(written)
    failed = whole_met is False or bool(relier_lost)
    return 1 if args.check and failed else 0


BENCHMARK = Benchmark(
    name=NAME,
    help="time relier's recovery from SIGKILLed pool processes and workers; count delivery "
         "under kills against vanilla Celery",
    add_arguments=add_arguments,
    run=run,
)
