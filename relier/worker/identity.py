"""Names of the worker processes that hold tasks.

A *worker node* is one ``celery worker`` main process (``<node name>/<pid>``); a *process* is the
pool process that runs a body (``<node name>/<pid>``; for solo and threads pools, the main
process itself).
"""

from __future__ import annotations

import os

_main_pid: int | None = None
#: The worker's node name as its consumer knows it. A task's request may carry another: a
#: worker started without Celery's worker optimisations (``celery.contrib.testing``'s
#: embedded worker) traces tasks with the machine's hostname instead.
_node_name: str | None = None
#: The worker's ``-P`` pool name (``prefork``, ``threads``, ``solo``, ``gevent``...).
_pool: str | None = None
#: Pools whose bodies run as greenlets in the main process; Celery ends a body at its hard
#: time limit by raising in its greenlet.
GREENLET_POOLS = frozenset({"gevent", "eventlet"})


def mark_worker_main_process(node_name: str | None = None, pool: str | None = None) -> None:
    """Remember the worker's main pid, node name and pool; pool processes forked later inherit
    them."""
    global _main_pid, _node_name, _pool  # noqa: PLW0603 - one main process per worker, set at start
    _main_pid = os.getpid()
    _node_name = node_name
    _pool = pool


def forget_worker_main_process() -> None:
    """The worker stopped (an embedded worker, as in Celery's test fixtures, leaves its
    process running): this process is no worker any more."""
    mark_worker_main_process(None, None)
    global _main_pid  # noqa: PLW0603 - the worker that set it has stopped
    _main_pid = None


def has_pool_processes() -> bool:
    """Whether bodies run in pool processes of their own (prefork), which a handoff can end."""
    return _pool in {None, "prefork"}


def runs_inline() -> bool:
    """Whether this worker runs each body in its consumer, as it receives it (solo): nothing
    it takes ever waits reserved."""
    return _pool == "solo"


def runs_on_greenlets() -> bool:
    """Whether this worker's bodies run on a greenlet pool (gevent, eventlet)."""
    return _pool in GREENLET_POOLS


def is_pool_process() -> bool:
    """Whether this is a prefork pool process (not the worker's main process)."""
    return _main_pid is not None and os.getpid() != _main_pid


def worker_node(hostname: str) -> str:
    return f"{_node_name or hostname}/{_main_pid if _main_pid is not None else os.getpid()}"


def process_id(hostname: str) -> str:
    return f"{_node_name or hostname}/{os.getpid()}"
