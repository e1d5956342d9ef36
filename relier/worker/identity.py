"""Names of the worker processes that hold tasks.

A *worker node* is one ``celery worker`` main process (``<node name>/<pid>``); a *process* is the
pool process that runs a body (``<node name>/<pid>``; for solo and threads pools, the main
process itself).
"""

from __future__ import annotations

import os

_main_pid: int | None = None


def mark_worker_main_process() -> None:
    """Remember the worker's main pid; pool processes forked later inherit it."""
    global _main_pid  # noqa: PLW0603 - one main process per worker, set once at start
    _main_pid = os.getpid()


def is_pool_process() -> bool:
    """Whether this is a prefork pool process (not the worker's main process)."""
    return _main_pid is not None and os.getpid() != _main_pid


def worker_node(hostname: str) -> str:
    return f"{hostname}/{_main_pid if _main_pid is not None else os.getpid()}"


def process_id(hostname: str) -> str:
    return f"{hostname}/{os.getpid()}"
