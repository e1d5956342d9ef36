"""Where a machine's CPU time went over a window: all cores (``/proc/stat``) and named processes
(``/proc/<pid>/stat``), Linux only. Parsers are pure; `machine_times` and `process_cpu_s` read
``/proc`` (None where it cannot be read: another OS, or a process gone)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

#: Ticks per second of ``/proc`` CPU times.
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True, slots=True)
class CoreTimes:
    """All cores' time so far, in ticks: spent busy, and in all (busy + idle + iowait)."""

    busy: int
    total: int


def parse_proc_stat(text: str) -> CoreTimes:
    """The aggregate ``cpu`` line of ``/proc/stat``: user nice system idle iowait irq softirq
    steal (guest time is already inside user and nice)."""
    for line in text.splitlines():
        name, *values = line.split()
        if name == "cpu":
            ticks = [int(value) for value in values[:8]]
            idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)
            return CoreTimes(busy=sum(ticks) - idle, total=sum(ticks))
    raise ValueError("no aggregate cpu line")


def busy_fraction(first: CoreTimes, last: CoreTimes) -> float:
    """The share of all cores' time spent busy between two readings (0 to 1)."""
    total = last.total - first.total
    return (last.busy - first.busy) / total if total > 0 else float("nan")


def parse_process_stat(text: str) -> float:
    """User + system CPU seconds of a process from its ``/proc/<pid>/stat`` line (the command
    name, in parentheses, may hold spaces)."""
    fields = text.rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime: fields 14, 15


def machine_times() -> CoreTimes | None:
    try:
        return parse_proc_stat(Path("/proc/stat").read_text())
    except (OSError, ValueError):
        return None


def process_cpu_s(pid: int) -> float | None:
    try:
        return parse_process_stat(Path(f"/proc/{pid}/stat").read_text())
    except (OSError, ValueError, IndexError):
        return None


def processes_cpu_s(pids: list[int]) -> float:
    """CPU seconds of `pids` added up (a process gone counts nothing)."""
    return sum(value for pid in pids if (value := process_cpu_s(pid)) is not None)
