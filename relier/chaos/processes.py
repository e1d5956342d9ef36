"""Process relations from /proc: which worker a pool process belongs to (pool processes lead
their own process groups, so the parent pid is what ties them to their worker)."""

from __future__ import annotations

import os


def parent_pid(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return int(stat.read().rsplit(")", 1)[1].split()[1])
    except (FileNotFoundError, IndexError, ValueError):
        return -1


def child_pids(pid: int) -> list[int]:
    """Direct children of `pid` (pool processes lead their own process groups)."""
    children = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and parent_pid(int(entry)) == pid:
            children.append(int(entry))
    return children
