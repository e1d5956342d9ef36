"""Open file descriptors of a worker after many tasks, relier vs vanilla: leaks show as growth.

Per arm, on a fresh Redis-compatible server (loopback): a ``celery worker`` (``bench.noop_arms``:
prefork ``-c 2``) runs a warm-up of no-op tasks, then ``/proc/<pid>/fd`` of the main process and
of each child (processes whose parent it is) is counted; N more no-op tasks are pushed (default
2,000; ``--scale`` 10,000) and run, and after a short rest the descriptors are counted again.
Each descriptor is classified by its link target (socket, pipe, anon_inode, device, file).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench import Benchmark
from bench.figures import Figure, by_arm, format_text, table
from bench.noop_arms import WORKERS, noop_arm, started
from bench.options import add_arm_option, add_number, add_output_options
from bench.result_files import machine_summary, now_utc, publish, server_label
from bench.servers import probe_machine, running_server
from bench.worker_log import WorkerLog
from bench.workers import ARMS
from relier.procinfo import ProcessDescriptors, descriptors, worker_processes
from relier.testing import server_binary

NAME = "fds"


@dataclass(frozen=True, slots=True)
class Count:
    """Descriptors of one worker after its warm-up and after the N tasks."""

    arm: str
    tasks: int
    before: list[ProcessDescriptors]
    after: list[ProcessDescriptors]

    def total(self, which: str) -> int:
        processes: list[ProcessDescriptors] = getattr(self, which)
        return sum(p.count for p in processes)

    def by_role(self, which: str, role: str) -> int:
        processes: list[ProcessDescriptors] = getattr(self, which)
        return sum(p.count for p in processes if (p.role == "main") == (role == "main"))


def count(arm: str, url: str, log_path: Path, *, tasks: int, warmup: int, settle: float,
          timeout: float) -> Count:
    subject = noop_arm(arm, url)
    log = WorkerLog(log_path)

    def snapshot(pid: int) -> list[ProcessDescriptors]:
        return [descriptors(process, role) for process, role in worker_processes(pid)]

    with started(subject.worker(log_path)) as worker:
        for _ in range(warmup):
            subject.push()
        log.wait_successes(warmup, timeout)
        time.sleep(settle)
        before = snapshot(worker.pid)
        for _ in range(tasks):
            subject.push()
        log.wait_successes(warmup + tasks, timeout)
        time.sleep(settle)
        after = snapshot(worker.pid)
    return Count(arm=arm, tasks=tasks, before=before, after=after)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_number(parser, "--tasks", 2000, "no-op tasks run between the two counts")
    add_number(parser, "--warmup", 20, "no-op tasks run before the first count")
    add_number(parser, "--settle", 0.5, "rest before each count, s")
    add_arm_option(parser, ARMS)
    add_output_options(parser, NAME)


def _kinds(processes: list[ProcessDescriptors]) -> str:
    merged: dict[str, int] = {}
    for process in processes:
        for kind, number in process.kinds.items():
            merged[kind] = merged.get(kind, 0) + number
    return ", ".join(f"{kind} {number}" for kind, number in sorted(merged.items()))


def run(args: argparse.Namespace) -> int:
    if args.tasks < 1 or args.warmup < 1:
        raise SystemExit("--tasks and --warmup must be >= 1")
    arms: list[str] = args.arm or list(ARMS)
    began = now_utc()
    binary = server_binary(args.server)
    counts: list[Count] = []
    machine: dict[str, Any] = {}
    timeout = max(120.0, args.tasks * 0.05)
    with tempfile.TemporaryDirectory(prefix="relier-bench-fds-") as tmp:
        parent = Path(tmp)
        for arm in arms:
            with running_server(parent / arm / "server", binary) as server:
                if not machine:
                    machine = probe_machine(server, binary)
                counts.append(count(arm, server.url, parent / arm / "worker.log",
                                    tasks=args.tasks, warmup=args.warmup, settle=args.settle,
                                    timeout=timeout))

    method = (f"entries of /proc/<pid>/fd, main process + each child, after {args.warmup} "
              f"warm-up no-op tasks and again after {args.tasks:,} more ({args.settle:g} s rest "
              f"before each count); fresh {server_label(machine)} per arm; {WORKERS}")
    by_name = {c.arm: c for c in counts}
    figures: list[Figure] = [
        by_arm(f"open fds after {args.tasks:,} tasks: main + 2 pool", "fds", method,
               {arm: by_name[arm].total("after") for arm in arms}),
        by_arm(f"open fds after {args.tasks:,} tasks: main process", "fds", method,
               {arm: by_name[arm].by_role("after", "main") for arm in arms}),
        by_arm(f"fd growth over {args.tasks:,} tasks (leak check)", "fds", method,
               {arm: by_name[arm].total("after") - by_name[arm].total("before")
                for arm in arms}),
    ]
    rows = [(c.arm, p_after.role, p_before.count, p_after.count, _kinds([p_after]))
            for c in counts for p_before, p_after in zip(c.before, c.after, strict=False)]
    details = table(f"open file descriptors per process, after warm-up and after {args.tasks:,} "
                    "tasks", method, ("arm", "process", "after warm-up", "after tasks",
                                      "kinds after tasks"), rows)
    publish(NAME, args.json_out, began,
            [f"fds: open descriptors after {args.tasks:,} tasks ({machine_summary(machine)})",
             format_text(figures, [details])],
            description="open file descriptors of a worker's processes after many no-op tasks, "
                        "relier vs vanilla Celery",
            config={"tasks": args.tasks, "warmup": args.warmup, "settle_s": args.settle,
                    "arms": arms},
            machine=machine, figures=figures, tables=[details], counts=[asdict(c) for c in counts])
    return 0


BENCHMARK = Benchmark(
    name=NAME,
    help="count a worker's open file descriptors (main + pool) after many tasks: relier vs "
         "vanilla",
    add_arguments=add_arguments,
    run=run,
    scale={"tasks": 10_000},
)
