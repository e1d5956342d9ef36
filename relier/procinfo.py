"""What Linux's ``/proc`` says about a process: its parent and children, memory, open descriptors.

Used by the chaos scenarios and the benchmarks. Parsing is split from reading so that it can be
tested on sample text. Pool processes lead their own process groups, so the parent pid is what
ties them to their worker.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
#: ``smaps_rollup`` fields kept, in kB.
_MEMORY_FIELDS = ("Rss", "Pss", "Private_Clean", "Private_Dirty")


@dataclass(frozen=True, slots=True)
class ProcessMemory:
    """One process's memory in kB: resident, proportional (shared pages split), private."""

    pid: int
    role: str
    rss_kb: int
    pss_kb: int
    uss_kb: int


@dataclass(frozen=True, slots=True)
class ProcessDescriptors:
    """One process's open file descriptors, in all and by kind (socket, pipe, file...)."""

    pid: int
    role: str
    count: int
    kinds: dict[str, int]


def parse_ppid(stat: str) -> int:
    """The parent pid from the text of ``/proc/<pid>/stat`` (the name may hold spaces)."""
    return int(stat.rsplit(")", 1)[1].split()[1])


def parse_smaps_rollup(text: str) -> dict[str, int]:
    """``Name: value kB`` lines of ``/proc/<pid>/smaps_rollup`` -> {name: kB} for known names."""
    values: dict[str, int] = {}
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        if name in _MEMORY_FIELDS:
            values[name] = int(rest.split()[0])
    missing = [name for name in _MEMORY_FIELDS if name not in values]
    if missing:
        raise ValueError(f"smaps_rollup lacks {', '.join(missing)}")
    return values


def fd_kind(target: str) -> str:
    """What a descriptor's link target names: socket, pipe, anon_inode:<what>, or file."""
    if target.startswith(("socket:", "pipe:")):
        return target.split(":", 1)[0]
    if target.startswith("anon_inode:"):
        return "anon_inode:" + target.removeprefix("anon_inode:").strip("[]")
    if target.startswith("/dev/"):
        return "device"
    return "file"


def parse_state(stat: str) -> str:
    """The one-letter state (``R``, ``S``, ``Z``...) from the text of ``/proc/<pid>/stat``."""
    return stat.rsplit(")", 1)[1].split(maxsplit=1)[0]


def is_gone(pid: int) -> bool:
    """`pid` has exited: reaped already, or a zombie waiting for its parent."""
    try:
        return parse_state((PROC / str(pid) / "stat").read_text()) == "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return True


def parent_pid(pid: int) -> int | None:
    """The parent of `pid` (a pool process's worker); None once the process is gone."""
    try:
        return parse_ppid((PROC / str(pid) / "stat").read_text())
    except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
        return None


def children(pid: int) -> list[int]:
    """Pids whose parent is `pid` (a worker's pool processes), in ascending order."""
    found = [int(entry.name) for entry in PROC.iterdir()
             if entry.name.isdigit() and parent_pid(int(entry.name)) == pid]
    return sorted(found)


def memory(pid: int, role: str) -> ProcessMemory:
    """`pid`'s memory from ``smaps_rollup``; `role` names it in reports (``main``...)."""
    values = parse_smaps_rollup((PROC / str(pid) / "smaps_rollup").read_text())
    return ProcessMemory(pid=pid, role=role, rss_kb=values["Rss"], pss_kb=values["Pss"],
                         uss_kb=values["Private_Clean"] + values["Private_Dirty"])


def descriptors(pid: int, role: str) -> ProcessDescriptors:
    """`pid`'s open descriptors, counted by kind; `role` names it in reports."""
    fd_dir = PROC / str(pid) / "fd"
    kinds: Counter[str] = Counter()
    for entry in os.listdir(fd_dir):
        try:
            kinds[fd_kind(os.readlink(fd_dir / entry))] += 1
        except FileNotFoundError:
            continue  # closed while we looked
    return ProcessDescriptors(pid=pid, role=role, count=sum(kinds.values()),
                              kinds=dict(sorted(kinds.items())))


def worker_processes(main_pid: int) -> list[tuple[int, str]]:
    """(pid, role) of a worker's main process and each of its children (``child 1``...)."""
    return [(main_pid, "main"), *((pid, f"child {index}")
                                  for index, pid in enumerate(children(main_pid), start=1))]
