"""Worker RAM per process: RSS, PSS and USS of the main process and each pool child, from /proc.

Per round and arm, on a fresh Redis-compatible server (loopback): a ``celery worker``
(``bench.noop_arms``: prefork ``-c 2``) is started, runs a warm-up of no-op tasks (so both
pool processes have imported and run the task path), then rests for a settle delay; then
``/proc/<pid>/smaps_rollup`` of the main process and of each child (processes whose parent it
is) gives Rss, Pss (shared pages divided among the processes sharing them) and USS (private
clean + dirty). Figures are medians over the rounds; rounds rotate the order of the arms.
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
from relier.procinfo import ProcessMemory, memory, worker_processes
from relier.testing import server_binary

NAME = "memory"
KIB_PER_MIB = 1024


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Every process of one worker after its warm-up."""

    arm: str
    round: int
    processes: list[ProcessMemory]

    def main(self) -> ProcessMemory:
        return next(p for p in self.processes if p.role == "main")

    def pool(self) -> list[ProcessMemory]:
        return [p for p in self.processes if p.role != "main"]

    def total_pss_kb(self) -> int:
        return sum(p.pss_kb for p in self.processes)


def snapshot(arm: str, url: str, log_path: Path, round_index: int, *, warmup: int,
             settle: float, timeout: float) -> Snapshot:
    subject = noop_arm(arm, url)
    log = WorkerLog(log_path)
    with started(subject.worker(log_path)) as worker:
        for _ in range(warmup):
            subject.push()
        log.wait_successes(warmup, timeout)
        time.sleep(settle)
        processes = [memory(pid, role) for pid, role in worker_processes(worker.pid)]
    return Snapshot(arm=arm, round=round_index, processes=processes)


def _mib(kb: float) -> float:
    return round(kb / KIB_PER_MIB, 2)


def summaries(snapshots: list[Snapshot]) -> dict[str, float]:
    """Medians over rounds (MiB): main RSS/PSS, pool-child mean RSS/PSS, worker total PSS."""
    def median(values: list[float]) -> float:
        return _mib(statistics.median(values))

    return {
        "main_rss": median([s.main().rss_kb for s in snapshots]),
        "main_pss": median([s.main().pss_kb for s in snapshots]),
        "child_rss": median([statistics.fmean(p.rss_kb for p in s.pool()) for s in snapshots]),
        "child_pss": median([statistics.fmean(p.pss_kb for p in s.pool()) for s in snapshots]),
        "total_pss": median([s.total_pss_kb() for s in snapshots]),
        "total_uss": median([sum(p.uss_kb for p in s.processes) for s in snapshots]),
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_number(parser, "--rounds", 3, "workers measured per arm, in rotating order")
    add_number(parser, "--warmup", 100, "no-op tasks each worker runs before the snapshot")
    add_number(parser, "--settle", 1.0, "rest after the warm-up before reading /proc, s")
    add_arm_option(parser, ARMS)
    add_output_options(parser, NAME)


_FIGURES = (
    ("main_rss", "RAM: worker main process, RSS"),
    ("child_rss", "RAM: per pool process (mean of 2), RSS"),
    ("main_pss", "RAM: worker main process, PSS"),
    ("child_pss", "RAM: per pool process (mean of 2), PSS"),
    ("total_pss", "RAM: whole worker (main + 2 pool), PSS"),
)


def run(args: argparse.Namespace) -> int:
    if args.rounds < 1 or args.warmup < 1:
        raise SystemExit("--rounds and --warmup must be >= 1")
    arms: list[str] = args.arm or list(ARMS)
    began = now_utc()
    binary = server_binary(args.server)
    machine, snapshots = rotating_arms(
        NAME, arms, args.rounds, binary,
        lambda arm, round_index, url, directory: snapshot(
            arm, url, directory / "worker.log", round_index, warmup=args.warmup,
            settle=args.settle, timeout=120.0))

    per_arm = {arm: summaries([s for s in snapshots if s.arm == arm]) for arm in arms}
    method = (f"/proc/<pid>/smaps_rollup of the main process and each child after "
              f"{args.warmup} no-op tasks + {args.settle:g} s rest; median of {args.rounds} "
              f"workers per arm, fresh {server_label(machine)} each; {WORKERS}")
    figures: list[Figure] = [by_arm(name, "MiB", method, {arm: per_arm[arm][key] for arm in arms})
                             for key, name in _FIGURES]
    rows: list[tuple[object, ...]] = []
    for arm in arms:
        ordered = sorted((s for s in snapshots if s.arm == arm), key=Snapshot.total_pss_kb)
        median_round = ordered[len(ordered) // 2]
        rows += [(arm, p.role, f"{_mib(p.rss_kb):.1f}", f"{_mib(p.pss_kb):.1f}",
                  f"{_mib(p.uss_kb):.1f}") for p in median_round.processes]
        rows.append((arm, "total", f"{_mib(sum(p.rss_kb for p in median_round.processes)):.1f}",
                     f"{_mib(median_round.total_pss_kb()):.1f}",
                     f"{_mib(sum(p.uss_kb for p in median_round.processes)):.1f}"))
    details = table("memory per process (MiB), the median worker of each arm", method,
                    ("arm", "process", "RSS", "PSS", "USS"), rows)
    tables = [details]
    if "relier" in per_arm and len(per_arm) > 1:
        tables.append(table(
            "what relier adds (MiB), medians", method,
            ("against", "main RSS", "pool process RSS", "main PSS", "pool process PSS",
             "whole worker PSS"),
            [(arm, *(f"{per_arm['relier'][key] - per_arm[arm][key]:+.1f}"
                     for key in ("main_rss", "child_rss", "main_pss", "child_pss", "total_pss")))
             for arm in per_arm if arm != "relier"]))
    publish(NAME, args.json_out, began,
            [f"memory: worker RAM per process ({machine_summary(machine)})",
             format_text(figures, tables)],
            description="RSS/PSS/USS of a worker's main process and pool processes, relier vs "
                        "vanilla Celery",
            config={"rounds": args.rounds, "warmup": args.warmup, "settle_s": args.settle,
                    "arms": arms},
            machine=machine, figures=figures, tables=tables, summary_mib=per_arm,
            snapshots=[asdict(s) for s in snapshots])
    return 0


BENCHMARK = Benchmark(
    name=NAME,
    help="read RSS/PSS of a worker's main and pool processes from /proc: relier vs vanilla",
    add_arguments=add_arguments,
    run=run,
    scale={"rounds": 5},
)
