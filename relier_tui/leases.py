"""How fresh each process's lease is, and what its age means in colour and number: the Inflight
and Workers panes and the task detail view read the same ages and colour them the same way."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from rich.text import Text

from relier.inspection import WorkerView
from relier_tui.units import duration


@dataclass(frozen=True, slots=True)
class LeaseLimits:
    """What a lease's age means: `refresh` is how often a live process renews it, `ttl` when
    the resurrector takes its tasks (both in seconds)."""

    ttl: float
    refresh: float

    def style(self, age: float) -> str:
        """Green while renewals arrive (under two refresh intervals), yellow late but within
        the TTL, red past it (its tasks are taken, or about to be)."""
        return "green" if age < 2 * self.refresh else "yellow" if age < self.ttl else "bold red"

    def meaning(self, age: float) -> str:
        """What the colour says, in words (colour is never the only signal)."""
        if age < 2 * self.refresh:
            return "alive"
        if age < self.ttl:
            return f"late (renewed every {duration(self.refresh)})"
        return f"expired (past the {duration(self.ttl)} TTL: its tasks are taken)"


def lease_cell(age: float | None, limits: LeaseLimits) -> Text:
    """Lease age (``4.2s``, ``12m05s``), coloured by `LeaseLimits.style`; ``none`` in red
    without one."""
    if age is None:
        return Text("none", style="bold red", justify="right")
    return Text(duration(age), style=limits.style(age), justify="right")


class LeaseBook:
    """When each process (a worker's main process or one of its pool processes) last renewed its
    lease, as the console last read it: the one answer the Workers and Inflight panes and the
    detail view give to "how fresh is this process's lease?". Moments are kept on this console's
    monotonic `clock`, so ages move between reads; a renewal only ever moves forward, so of two
    readings the newer renewal wins, whichever read brought it."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        #: seconds on a monotonic clock (a test stops it to freeze every age)
        self.clock = clock
        self._renewed: dict[str, float] = {}
        #: the processes that held a lease at their last reading (the others: last seen)
        self._leased: set[str] = set()

    def record_workers(self, workers: Iterable[WorkerView]) -> None:
        """A read of every registered worker and lease: the book holds just these processes
        now (a lease the read did not find is gone); a dead worker's reaped lease is kept as
        the moment it was last seen."""
        now = self.clock()
        renewed: dict[str, float] = {}
        leased: set[str] = set()
        for worker in workers:
            if worker.lease_age is not None:
                renewed[worker.node] = now - worker.lease_age
                leased.add(worker.node)
            elif worker.last_seen_age is not None:
                renewed[worker.node] = now - worker.last_seen_age
            for process in worker.processes:
                renewed[process.id] = now - process.lease_age
                leased.add(process.id)
        for held in leased:  # a reading since this read began may be newer
            if held in self._leased:
                renewed[held] = max(renewed[held], self._renewed[held])
        self._renewed, self._leased = renewed, leased

    def lease_age(self, process: str) -> float | None:
        """Seconds since `process` renewed its lease, now; None when it holds none (it is gone,
        or was never read)."""
        if process not in self._leased:
            return None
        return max(0.0, self.clock() - self._renewed[process])

    def seen_age(self, process: str) -> float | None:
        """Seconds since `process` last renewed its lease, held or reaped since; None when
        nothing recorded it."""
        renewed = self._renewed.get(process)
        return None if renewed is None else max(0.0, self.clock() - renewed)
