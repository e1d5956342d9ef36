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
4. vanilla child death: as 1. on one vanilla Celery worker per arm (its own fresh server), with a
   body that counts its own starts (Celery has no attempt number): ``acks_late`` +
   ``reject_on_worker_lost`` re-queues the message when the pool process dies; Celery's
   defaults acknowledged it before the body ran, so the task is never re-run (each kill waits
   ``--rerun-timeout`` for a re-run that does not come).
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
from dataclasses import asdict
from pathlib import Path
from typing import Any

import redis

from bench import Benchmark
from bench.options import add_check_option, add_number, add_output_options
from bench.recovery_report import (
    Delivery,
    VanillaChildDeath,
    figures_and_tables,
    format_delivery,
)
from bench.redis_state import arm_counts, attempt_start, wait_for_completions
from bench.report import Row, format_table, summarize
from bench.result_files import Target, machine_summary, now_utc, publish, server_label
from bench.senders import sending_app, vanilla_pusher
from bench.servers import probe_machine, running_server
from bench.workers import ARMS, bench_worker, resurrector, stop_worker, vanilla_worker
from relier.procinfo import parent_pid
from relier.testing import FAST_LEASES, CeleryWorker, server_binary, wait_until

NAME = "recovery"
LEASE_TTL = float(FAST_LEASES["RELIER_LEASE_TTL"])
#: Target for whole-worker death: attempt 2 starts within the lease TTL plus this, at p99.
TARGET_SLACK_S = 1.0


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


def vanilla_child_death(arm: str, url: str, log_dir: Path, kills: int,
                        rerun_timeout: float) -> VanillaChildDeath:
    """As `child_death` on a vanilla worker: kill -> start of the re-run, when there is one."""
    client = redis.Redis.from_url(url)
    sender = sending_app(f"bench-hold-{arm}", url)
    worker = vanilla_worker(arm, url, log_dir / f"child-death-{arm}.log", concurrency=2)
    latencies: list[int] = []
    try:
        worker.start().wait_ready()
        for _ in range(kills):
            task_id = str(sender.send_task("bench.vanilla_hold", args=[60], queue="default").id)
            pid, _ = _attempt(client, task_id, 1, timeout=30)
            killed_at = time.time()
            os.kill(pid, signal.SIGKILL)
            try:
                _, started = _attempt(client, task_id, 2, timeout=rerun_timeout)
            except TimeoutError:
                continue
            latencies.append(round((started - killed_at) * 1e9))
    finally:
        stop_worker(worker)
        client.close()
    return VanillaChildDeath(arm=arm, kills=kills, rerun=len(latencies),
                             rerun_timeout_s=rerun_timeout, latencies_ns=latencies)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _kill_running(client: redis.Redis, arm: str, *, kills: int, gap: float,
                  killed: set[int], timeout: float) -> int:
    """SIGKILL up to `kills` pool processes seen running a task of `arm`, `gap` s apart, each
    running a task not killed before: a re-queued task goes to the front of its queue and runs
    next, and killing it again and again would measure relier's poison-pill cap
    (max_resurrections: dead-lettered after 6 deaths), not delivery."""
    done = 0
    deadline = time.monotonic() + timeout
    victims: set[bytes | str] = set()
    while done < kills and time.monotonic() < deadline:
        running = client.hgetall(f"bench:running:{arm}")
        candidates = [(task_id, int(pid)) for task_id, pid in running.items()
                      if task_id not in victims and int(pid) not in killed and _alive(int(pid))]
        if not candidates:
            time.sleep(0.01)
            continue
        task_id, pid = candidates[0]
        victims.add(task_id)
        killed.add(pid)
        os.kill(pid, signal.SIGKILL)
        done += 1
        time.sleep(gap)
    return done


def _delivery_arm(arm: str, url: str, log_dir: Path, *, tasks: int, kills: int, seconds: float,
                  settle: float, cap: float) -> Delivery:
    client = redis.Redis.from_url(url)
    stack = contextlib.ExitStack()
    if arm == "relier":
        module = _relier_tasks(url)
        worker = _relier_worker(url, log_dir, f"delivery-{arm}")
        push: Callable[[], str] = lambda: str(module.work.push(arm, seconds).id)  # noqa: E731
        # relier as deployed, with a resurrector (the lease path behind the fast path)
        stack.enter_context(resurrector(url, log_dir / f"delivery-{arm}-resurrector.log", FAST_LEASES))
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
        stack.close()
        client.close()
    completed_ids = sum(1 for count in done_counts if count > 0)
    return Delivery(
        arm=arm, tasks=tasks, kills=done_kills, completed=completed_ids,
        lost=tasks - completed_ids, executions=sum(exec_counts),
        extra_executions=sum(max(count - 1, 0) for count in exec_counts),
        duplicate_completions=sum(1 for count in done_counts if count > 1),
        waited_s=round(waited, 3),
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_number(parser, "--kills", 10, "pool-process kills timed for child-death recovery")
    add_number(parser, "--worker-kills", 3, "whole-worker kills timed")
    add_number(parser, "--tasks", 20, "tasks per arm of the delivery test")
    add_number(parser, "--delivery-kills", 3, "pool-process kills per arm of the delivery test")
    add_number(parser, "--task-seconds", 0.5, "sleep in each delivery task")
    add_number(parser, "--settle", 8.0, "stop waiting for an arm after this long without progress")
    add_number(parser, "--max-wait", 60.0, "longest wait for an arm's completions")
    add_number(parser, "--vanilla-kills", 10, "pool-process kills of vanilla acks_late, timed")
    add_number(parser, "--defaults-kills", 3, "pool-process kills of vanilla with defaults")
    add_number(parser, "--rerun-timeout", 10.0, "longest wait for a vanilla re-run after a kill, s")
    parser.add_argument("--skip", choices=("child", "worker", "delivery", "vanilla"),
                        action="append",
                        default=[], help="skip a part (repeatable)")
    add_output_options(parser, NAME)
    add_check_option(parser, "whole-worker p99 exceeds the lease TTL + 1 s or relier loses a task")


def _vanilla_parts(args: argparse.Namespace, parent: Path, binary: Path, *, method: str,
                   rows: list[Row], samples: dict[str, list[int]]) -> list[VanillaChildDeath]:
    """Child death on each vanilla arm (a fresh server each); adds rows and samples."""
    deaths: list[VanillaChildDeath] = []
    for arm, kills in (("vanilla-acks-late", args.vanilla_kills),
                       ("vanilla-defaults", args.defaults_kills)):
        if kills:
            with running_server(parent / f"child-{arm}", binary) as server:
                deaths.append(vanilla_child_death(arm, server.url, parent, kills,
                                                  args.rerun_timeout))
    for death in deaths:
        if death.latencies_ns:
            samples[f"{death.arm}: child death"] = death.latencies_ns
            rows.append(Row("child death, vanilla", f"{death.arm}, pool process SIGKILL",
                            method, summarize(death.latencies_ns)))
    return deaths


def method_lines(args: argparse.Namespace, common: str) -> dict[str, str]:
    """One line per part: how it was measured."""
    return {
        "child": (f"{args.kills} SIGKILLs (vanilla acks_late {args.vanilla_kills}, defaults "
                  f"{args.defaults_kills}) of the pool process running attempt 1, one "
                  f"worker, {common}"),
        "worker": (f"{args.worker_kills} SIGKILLs of the whole worker process group running "
                   "attempt 1, a second worker idle and a resurrector (interval 0.2 s) "
                   f"running, {common}"),
        "vanilla": (f"one vanilla worker per arm (prefork -c 2, fresh server); the body "
                    "counts its starts; SIGKILL of the pool process running the first; "
                    f"re-run awaited {args.rerun_timeout:g} s; time.time() before the kill "
                    "to the re-run's body start"),
        "delivery": (
            f"{args.tasks} tasks sleeping {args.task_seconds:g} s pushed at once to one "
            f"prefork -c 2 worker, {args.delivery_kills} SIGKILLs of a pool process running "
            "a task not killed before; executions (INCR at body start) and completions (INCR + SADD at body "
            f"end) counted per task id; wait stops at all completed, {args.settle:g} s "
            f"without progress or {args.max_wait:g} s; relier with a resurrector (lease TTL 2 s), "
            "as deployed; fresh server per vanilla arm"),
    }


def _check_counts(args: argparse.Namespace) -> None:
    if min(args.kills, args.worker_kills, args.tasks, args.delivery_kills) < 1:
        raise SystemExit("--kills, --worker-kills, --tasks and --delivery-kills must be >= 1")
    if min(args.vanilla_kills, args.defaults_kills) < 0:
        raise SystemExit("--vanilla-kills and --defaults-kills must be >= 0")


def run(args: argparse.Namespace) -> int:
    _check_counts(args)
    started = now_utc()
    binary = server_binary(args.server)
    rows: list[Row] = []
    samples: dict[str, list[int]] = {}
    deliveries: list[Delivery] = []
    vanilla: list[VanillaChildDeath] = []
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
        methods = method_lines(args, common)
        if "child" not in args.skip:
            latencies = child_death(relier_url, parent, args.kills)
            samples["relier: child death"] = latencies
            rows.append(Row("child death", "relier, pool process SIGKILL", methods["child"],
                            summarize(latencies)))
        if "worker" not in args.skip:
            latencies = worker_death(relier_url, parent, args.worker_kills)
            samples["relier: whole-worker death"] = latencies
            rows.append(Row("whole-worker death", "relier, worker killpg SIGKILL",
                            methods["worker"], summarize(latencies)))
        if "vanilla" not in args.skip:
            vanilla = _vanilla_parts(args, parent, binary, method=methods["vanilla"],
                                     rows=rows, samples=samples)
        if "delivery" not in args.skip:
            for arm in ARMS:
                with contextlib.ExitStack() as arm_stack:
                    url = relier_url if arm == "relier" else arm_stack.enter_context(
                        running_server(parent / f"delivery-{arm}", binary)).url
                    deliveries.append(_delivery_arm(
                        arm, url, parent, tasks=args.tasks, kills=args.delivery_kills,
                        seconds=args.task_seconds, settle=args.settle, cap=args.max_wait))

    figures, tables = figures_and_tables(rows, deliveries, vanilla, methods)
    whole = next((row for row in rows if row.group == "whole-worker death"), None)
    limit_s = LEASE_TTL + TARGET_SLACK_S
    target = Target(f"whole-worker death: kill -> attempt 2 p99 <= lease TTL ({LEASE_TTL:g} s) + "
                    f"{TARGET_SLACK_S:g} s", None if whole is None else whole.stats.p99_ns <= limit_s * 1e9,
                    {"max_p99_s": limit_s,
                     "measured_p99_s": None if whole is None else whole.stats.p99_ns / 1e9})
    relier_lost = next((d.lost for d in deliveries if d.arm == "relier"), None)
    report = [format_table(f"recovery: relier under SIGKILL ({machine_summary(machine)})", rows,
                           unit="ms", count_label="kills")] if rows else []
    report += [f"  {death.arm}: {death.rerun}/{death.kills} killed tasks re-run within "
               f"{death.rerun_timeout_s:g} s" for death in vanilla]
    if deliveries:
        report.append(format_delivery("delivery under kills: relier vs vanilla Celery",
                                      methods["delivery"], deliveries))
    if whole is not None:
        report.append(f"target: whole-worker kill -> attempt 2 p99 <= {limit_s:g} s: "
                      f"measured {whole.stats.p99_ns / 1e9:.3f} s, {target.verdict}")
    publish(NAME, args.json_out, started, report,
            description="recovery latency and delivery of tasks whose processes are SIGKILLed",
            config={"kills": args.kills, "worker_kills": args.worker_kills, "tasks": args.tasks,
                    "delivery_kills": args.delivery_kills, "task_seconds": args.task_seconds,
                    "settle_s": args.settle, "max_wait_s": args.max_wait,
                    "vanilla_kills": args.vanilla_kills, "defaults_kills": args.defaults_kills,
                    "rerun_timeout_s": args.rerun_timeout, **FAST_LEASES},
            machine=machine, figures=figures, tables=tables,
            notes=[
                "Whole-worker death has no vanilla figure: with Celery's defaults the message was "
                "acknowledged before the body ran and is gone; with acks_late it waits in kombu's "
                "unacked set until the transport's visibility_timeout (one hour by default) has "
                "passed, which this benchmark does not wait for.",
                "Child death on vanilla acks_late depends on when the prefork pool notices the "
                "dead child: at once when it sees the exit, else at its 5 s maintenance timer. "
                "relier's worker calls that maintenance every 0.1 s (WatchPoolProcesses).",
            ],
            results=[row.to_json() for row in rows],
            samples_ms={group: [round(value / 1e6, 1) for value in values]
                        for group, values in samples.items()},
            delivery={"method": methods["delivery"],
                      "arms": [asdict(delivery) for delivery in deliveries]},
            vanilla_child_death=[{k: v for k, v in asdict(d).items() if k != "latencies_ns"}
                                 for d in vanilla],
            target=target.to_json())
    failed = target.met is False or bool(relier_lost)
    return 1 if args.check and failed else 0


BENCHMARK = Benchmark(
    name=NAME,
    help="time relier's recovery from SIGKILLed pool processes and workers; count delivery "
         "under kills against vanilla Celery",
    add_arguments=add_arguments,
    run=run,
    scale={"kills": 10, "worker_kills": 10, "vanilla_kills": 10, "defaults_kills": 10,
           "tasks": 10_000, "delivery_kills": 10, "task_seconds": 0.05, "max_wait": 1800.0},
)
