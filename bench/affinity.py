"""Pinning a server process to one core (``sched_setaffinity`` on each of its threads), Linux
only; where the machine has fewer cores than servers, they share. `plan_cores` and
`describe_pinning` are pure; `pin` changes the process's affinity."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Pinning:
    """Where one process was pinned: its `core`, how many of its threads took it, or why not."""

    core: int
    threads: int
    error: str | None = None

    @property
    def is_pinned(self) -> bool:
        return self.error is None and self.threads > 0


def available_cores() -> list[int]:
    """The cores this process may run on (its affinity), else 0..cpu_count-1."""
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


def plan_cores(count: int, cores: Sequence[int]) -> list[int]:
    """A core for each of `count` servers, in turn: each its own while there are enough."""
    if not cores:
        raise ValueError("no cores to pin to")
    return [cores[index % len(cores)] for index in range(count)]


def pin(pid: int, core: int) -> Pinning:
    """Pin every thread of `pid` to `core` (the threads it starts later inherit it from the
    main thread); a `Pinning` saying why when the OS refuses."""
    if not hasattr(os, "sched_setaffinity"):
        return Pinning(core, 0, "sched_setaffinity is not available on this OS")
    try:
        threads = [int(entry.name) for entry in Path(f"/proc/{pid}/task").iterdir()]
    except OSError:
        threads = [pid]
    pinned = 0
    try:
        for thread in threads:
            os.sched_setaffinity(thread, {core})
            pinned += 1
    except OSError as error:
        return Pinning(core, pinned, f"{type(error).__name__}: {error}")
    return Pinning(core, pinned)


def describe_pinning(names: Sequence[str], pinnings: Sequence[Pinning],
                     cores: Sequence[int]) -> str:
    """Which core each named server is on, and whether any share one, in words."""
    parts = []
    for name, pinning in zip(names, pinnings, strict=True):
        where = f"{name} on core {pinning.core}"
        parts.append(where if pinning.is_pinned else f"{name} not pinned ({pinning.error})")
    used = [p.core for p in pinnings if p.is_pinned]
    shared = sorted({core for core in used if used.count(core) > 1})
    text = ", ".join(parts)
    if shared:
        text += (f"; {len(names)} servers on {len(cores)} cores: core(s) "
                 f"{', '.join(map(str, shared))} shared")
    return text
