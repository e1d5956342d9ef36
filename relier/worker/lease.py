"""Leases: the worker's main process renews its own lease and its live pool processes'.

One thread in the main process, one script per interval, whatever the number of tasks held.
It never depends on a task's thread or event loop, so a body that blocks (C code, a sync call
in an ``async def``) does not make its process look dead. Errors are logged and retried at
the next interval; the thread never exits on a Redis blip. A process whose lease was reaped
is fenced off: its task was re-queued elsewhere, so a pool process still running it is killed;
when the main process's own lease was reaped, the worker registers again (`on_reaped`), since
the resurrector may have forgotten it as dead.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from relier.store import Store
from relier.worker.identity import worker_node

logger = logging.getLogger("relier.lease")


def pool_pids(pool: Any) -> list[int]:
    """Pids of a prefork pool's live processes; none for solo and threads pools."""
    inner = getattr(getattr(pool, "_pool", None), "_pool", None)
    if not isinstance(inner, list):
        return []
    return [pid for pid in (getattr(process, "pid", None) for process in list(inner)) if pid]


class LeaseKeeper:
    """Renews leases from a daemon thread until `stop()`."""

    def __init__(self, store: Store, hostname: str, pool: Any, interval: float,
                 health_file: str = "", *, on_reaped: Callable[[], None] | None = None) -> None:
        self._store = store
        self._health_file = Path(health_file) if health_file else None
        self._hostname = hostname
        self._pool = pool
        self._interval = interval
        self._on_reaped = on_reaped
        self._stop = threading.Event()
        self._known: set[str] = set()
        self._thread = threading.Thread(target=self._run, name="relier-lease", daemon=True)

    @property
    def node(self) -> str:
        return worker_node(self._hostname)

    def processes(self) -> dict[str, int | None]:
        """Process id -> pid to kill when fenced off (None for the main process)."""
        live: dict[str, int | None] = {self.node: None}
        for pid in pool_pids(self._pool):
            live[f"{self._hostname}/{pid}"] = pid
        return live

    def start(self) -> None:
        self.refresh_once()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(self._interval * 2)

    def refresh_once(self) -> None:
        try:
            live = self.processes()
            missing = self._store.refresh_leases(list(live))
        except Exception as exc:  # noqa: BLE001 - any failure is retried at the next interval
            logger.warning("lease refresh failed (%s); retrying in %.1f s", exc, self._interval)
            return
        for process in missing:
            if process in self._known:
                self._fence_off(process, live.get(process))
        self._known = set(live)

    def _fence_off(self, process: str, pid: int | None) -> None:
        if pid is None:
            logger.error("lease of %s was reaped: its reserved tasks were re-queued", process)
            if self._on_reaped is not None:
                self._on_reaped()
            return
        logger.error("lease of %s was reaped: its task runs elsewhere now; killing pid %d",
                     process, pid)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            return

    def _run(self) -> None:
        self._touch_health_file()
        while not self._stop.wait(self._interval):
            self.refresh_once()
            self._touch_health_file()

    def _touch_health_file(self) -> None:
        """Liveness for orchestrators: this thread runs, whether or not Redis answered (a Redis
        blip must not get workers restarted)."""
        if self._health_file is None:
            return
        try:
            self._health_file.touch()
        except OSError as exc:
            logger.warning("cannot touch RELIER_HEALTH_FILE %s: %s", self._health_file, exc)
