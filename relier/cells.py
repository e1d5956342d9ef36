"""Every cell's runtime in one process, and the cell a task id lives in.

With ``RELIER_CELLS`` unset there is one cell, the process's runtime, with no name: every
lookup returns it and nothing else changes. With cells, the process's own runtime (its
``RELIER_CELL``, else the first cell listed) is joined by one runtime per other cell, each
created (and connected) when a push or a lookup first needs it.
"""

from __future__ import annotations

import dataclasses
import threading
import time
import weakref
from collections.abc import Mapping
from typing import Any

import redis

from relier.cell_drain import DRAIN_RECHECK_SECONDS, is_marked
from relier.cell_settings import checked_cells, home_cell_url
from relier.config import Settings
from relier.errors import ConfigurationError
from relier.placement import cell_in_task_id, ranked_cells
from relier.runtime import Runtime
from relier.sentinel import is_sentinel_url
from relier.sentinel import parse as parse_sentinel


def with_cells(settings: Settings, cells: Mapping[str, str]) -> Settings:
    """`settings` with the cells given to ``Relier(app, cells=...)`` (RELIER_REDIS_URL unused);
    raises `ConfigurationError` naming the problem."""
    try:
        checked = checked_cells(cells)
        url = home_cell_url(checked, settings.cell, None) if checked else ""
    except ValueError as exc:
        raise ConfigurationError(f"Relier(app, cells=...): {exc}") from None
    if not checked:
        raise ConfigurationError("Relier(app, cells={}): no cell given; leave cells= out for "
                                 "one Redis")
    return dataclasses.replace(settings, cells=checked, redis_url=url)


def consume_own_cell(conf: Any, settings: Settings) -> None:
    """A process that names its cell (RELIER_CELL) uses that cell's Redis as its Celery broker."""
    if not (settings.cells and settings.cell):
        return
    url = settings.redis_url
    if is_sentinel_url(url):
        broker, options = parse_sentinel(url).broker_settings()
        conf.broker_url = broker
        conf.broker_transport_options = {**(conf.broker_transport_options or {}), **options}
    else:
        conf.broker_url = url


def own_cell(cells: tuple[tuple[str, str], ...], cell: str) -> str:
    """The name of the cell a process serves: `cell`, else the first listed ("" without cells)."""
    return cell or (cells[0][0] if cells else "")


class Cells:
    """The runtimes of every cell this process knows, by name; `home` is its own."""

    def __init__(self, home: Runtime) -> None:
        self.home = home
        settings = home.settings
        #: Every cell's name, in RELIER_CELLS order (empty: one Redis, no cells).
        self.names: tuple[str, ...] = tuple(name for name, _ in settings.cells)
        self._urls = dict(settings.cells)
        self._runtimes: dict[str, Runtime] = {home.cell: home} if self.names else {}
        self._lock = threading.Lock()
        #: cell -> (is it draining, when that was read: monotonic seconds)
        self._draining: dict[str, tuple[bool, float]] = {}

    @property
    def is_sharded(self) -> bool:
        """Whether tasks are spread over named cells (RELIER_CELLS is set)."""
        return bool(self.names)

    def runtime(self, cell: str) -> Runtime:
        """The runtime of `cell`, created on first use (it connects lazily)."""
        runtime = self._runtimes.get(cell)
        if runtime is not None:
            return runtime
        with self._lock:
            runtime = self._runtimes.get(cell)
            if runtime is None:
                home = self.home
                settings = dataclasses.replace(home.settings, redis_url=self._urls[cell], cell=cell)
                runtime = Runtime(settings, home.broker_keys, home.queue_admission, cell=cell)
                runtime.task_queues = home.task_queues  # the same declarations, shared
                self._runtimes[cell] = runtime
        return runtime

    def selected(self, only: str | None = None) -> tuple[str, ...]:
        """Every cell's name, or just `only`; raises `ValueError` for a name not in
        RELIER_CELLS (or any name without cells)."""
        if only is None:
            return self.names
        if only not in self.names:
            listed = ", ".join(self.names) if self.names else "RELIER_CELLS is not set"
            raise ValueError(f"no cell {only!r} (cells: {listed})")
        return (only,)

    def drain_is_stale(self, cell: str) -> bool:
        """Whether `is_draining(cell)` would read Redis (its last answer is too old)."""
        known = self._draining.get(cell)
        return known is None or time.monotonic() - known[1] >= DRAIN_RECHECK_SECONDS

    def is_draining(self, cell: str) -> bool:
        """Whether `cell` carries a drain mark (`relier.cell_drain`), as read at most
        DRAIN_RECHECK_SECONDS ago. Raises redis-py's error when the cell does not answer."""
        if not self.drain_is_stale(cell):
            return self._draining[cell][0]
        draining = is_marked(self.runtime(cell).store)
        self._draining[cell] = (draining, time.monotonic())
        return draining

    def first_for(self, key: str) -> Runtime:
        """The runtime of the cell `key` ranks first (where a pinned task with it goes)."""
        if not self.names:
            return self.home
        return self.runtime(ranked_cells(key, self.names)[0])

    def locate(self, task_id: str) -> Runtime:
        """The runtime of the cell holding `task_id`: the one its id names; for an id without
        a cell (chosen by its caller, or a canvas step Celery named) the first of the cells
        ranked by the id's hash that has its record, else the first of them (a record may
        not exist yet). A cell that does not answer is passed over."""
        if not self.names:
            return self.home
        named = cell_in_task_id(task_id, self.names)
        if named is not None:
            return self.runtime(named)
        ranked = [self.runtime(cell) for cell in ranked_cells(task_id, self.names)]
        for runtime in ranked:
            try:
                if runtime.store.client.exists(runtime.keys.record(task_id)):
                    return runtime
            except (redis.ConnectionError, redis.TimeoutError):
                continue
        return ranked[0]

    def close(self) -> None:
        """Close the connections of the cells this object created (not the home cell's)."""
        for cell, runtime in list(self._runtimes.items()):
            if runtime is not self.home:
                runtime.connections.close()
                del self._runtimes[cell]


_cells: weakref.WeakKeyDictionary[Any, Cells] = weakref.WeakKeyDictionary()


def register_cells(app: Any, cells: Cells) -> None:
    _cells[app] = cells


def cells_of(app: Any) -> Cells | None:
    """The cells registered for a Celery app, if relier is bound to it."""
    return _cells.get(app)
