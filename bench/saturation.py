"""Saturating a server: producer processes pushing flat out, worker logs counting successes,
and what saturated first. Shared by ``python -m bench ceiling`` (one Redis, per arm) and its
``--cells`` run (relier across several Redis servers, `bench.cell_ceiling`)."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import queue
import time
from array import array
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.context import SpawnProcess
from multiprocessing.synchronize import Event
from typing import Any

from bench.worker_log import WorkerLog
from relier.procinfo import children
from relier.testing import CeleryWorker

#: Utilisation from which a resource counts as saturated.
SATURATED = 0.9
#: Successes logged (per pool process) before the window opens: the workers are busy.
WARM_PER_PROCESS = 10
_SPAWN = multiprocessing.get_context("spawn")


@dataclass(frozen=True, slots=True)
class Topology:
    """One cell's clients: producer processes, worker processes, each worker's concurrency."""

    producers: int
    workers: int
    concurrency: int

    @property
    def pool_processes(self) -> int:
        return self.workers * self.concurrency

    def text(self) -> str:
        return (f"{self.producers} producer processes, {self.workers} prefork workers x "
                f"-c {self.concurrency}")



def bottleneck(redis_main: float, machine_busy: float | None, cores: int | None) -> str:
    """What saturated first, in words: the Redis main thread, else the machine's cores, else
    neither (the clients' own round trips set the pace)."""
    main = f"Redis main thread at {redis_main:.0%} of a core"
    if redis_main >= SATURATED:
        return f"the Redis main thread: {main}"
    if machine_busy is not None and machine_busy >= SATURATED:
        return (f"the machine's cores: {machine_busy:.0%} of {cores or '?'} busy, shared by "
                f"producers, workers and Redis; {main}, not saturated")
    busy = "?" if machine_busy is None else f"{machine_busy:.0%}"
    return (f"neither: {main}, cores {busy} busy; the clients' waits on round trips set the "
            f"pace (more producers or workers would push further)")


def pushes_within(stamps: Sequence[float], began: float, ended: float) -> int:
    return sum(1 for at in stamps if began <= at < ended)


#: Builds, inside a producer process, the call that pushes one task and returns where it went
#: (a cell's name; "" with one server). Module-level (or a `functools.partial` of one): it is
#: pickled to a spawned process.
PusherFactory = Callable[[], Callable[[], str]]




def produce(pusher: PusherFactory, stop: Event, reports: Any) -> None:
    """A producer process: push until `stop`, then report when each push returned, by where
    it went."""
    try:
        push = pusher()
        push()
        reports.put(("ready", os.getpid(), {}))
        stamps: dict[str, array[float]] = {}
        while not stop.is_set():
            where = push()
            (stamps.get(where) or stamps.setdefault(where, array("d"))).append(time.time())
        reports.put(("done", os.getpid(), {where: at.tobytes() for where, at in stamps.items()}))
    except BaseException as error:  # noqa: BLE001 - reported to the parent, which raises
        reports.put(("error", os.getpid(), repr(error)))


@dataclass(slots=True)
class Producers:
    """The producer processes of a cell and what they report."""

    processes: list[SpawnProcess]
    stop: Event
    reports: Any

    def next_report(self, timeout: float) -> tuple[str, int, Any]:
        try:
            kind, pid, data = self.reports.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"no producer report after {timeout:g} s") from None
        if kind == "error":
            raise RuntimeError(f"producer {pid} failed: {data}")
        return kind, pid, data

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for _ in self.processes:
            self.next_report(max(0.0, deadline - time.monotonic()))

    def finish(self, timeout: float) -> dict[str, list[float]]:
        """Stop them; every push's return time, all producers together, by where it went."""
        self.stop.set()
        deadline = time.monotonic() + timeout
        stamps: dict[str, array[float]] = {}
        for _ in self.processes:
            _, _, data = self.next_report(max(0.0, deadline - time.monotonic()))
            for where, raw in data.items():
                stamps.setdefault(where, array("d")).frombytes(raw)
        return {where: list(at) for where, at in stamps.items()}

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes if p.pid is not None]


@contextlib.contextmanager
def producing(pusher: PusherFactory, count: int) -> Iterator[Producers]:
    """`count` producer processes each pushing with what `pusher` builds, stopped on exit."""
    stop = _SPAWN.Event()
    reports = _SPAWN.Queue()
    processes = [_SPAWN.Process(target=produce, args=(pusher, stop, reports), daemon=True)
                 for _ in range(count)]
    for process in processes:
        process.start()
    try:
        yield Producers(processes, stop, reports)
    finally:
        stop.set()
        for process in processes:
            process.join(10)
            if process.is_alive():
                process.kill()
                process.join(10)


def worker_pids(workers: Sequence[CeleryWorker]) -> list[int]:
    return [pid for worker in workers for pid in (worker.pid, *children(worker.pid))]


def successes(logs: Sequence[WorkerLog]) -> int:
    """Successes logged so far, all logs together."""
    for log in logs:
        log.poll()
    return sum(len(log.successes) for log in logs)


def log_caught_up(logs: Sequence[WorkerLog], ended: float) -> bool:
    """Whether every log holds a success stamped at or after `ended` (so none before is
    still to be written)."""
    for log in logs:
        log.poll()
    return all(log.successes and log.successes[-1] >= ended for log in logs)



def percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"
