"""push/apush across cells: place the task (`relier.placement`), then dispatch it to its cell,
or to the next one when a task free to move finds its cell down, refusing it or drained
(`relier.cell_drain`: a pinned task placed in a drained cell fails with `CellDrainingError`).

Without cells this is `relier.dispatch` itself, with the same ids and keys. A push moves only
when nothing can have been queued: the cell refused the connection or the write (down,
loading, out of memory, read-only) or admission said no. A push that reached a cell and got
no answer stays with that cell (`relier.dispatch` retries it there under the same id): moving
it could run the task twice.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import redis

from relier.cells import Cells
from relier.dispatch import adispatch, dispatch
from relier.errors import (
    AdmissionRejectedError,
    CellDrainingError,
    CellUnavailableError,
    NoCellAcceptedError,
)
from relier.handle import TaskHandle
from relier.options import CallOptions
from relier.placement import Placement, new_task_id, placement_for
from relier.spec import TaskSpec, idempotency_digest

#: Errors that mean the cell queued nothing: the push may go to another cell.
#: (`relier.dispatch` raises connection errors and timeouts only when the first try could not
#: connect; redis-py's BusyLoadingError, a restarted Redis still loading, is a ConnectionError.)
UNAVAILABLE = (redis.ConnectionError, redis.TimeoutError, redis.exceptions.OutOfMemoryError,
               redis.exceptions.ReadOnlyError)


def placement_of(spec: TaskSpec, args: Sequence[Any], kwargs: Mapping[str, Any], *,
                 cell_key: object = None, task_id: str | None = None,
                 call: CallOptions | None = None, unique: str = "") -> Placement:
    """How this call is placed: see `relier.placement.placement_for` for the order."""
    if cell_key is None and spec.cell_key is not None:
        cell_key = spec.cell_key(*args, **kwargs)
    canvas = call.canvas if call is not None else {}
    # a group's (and chord header's) members share their group id, which also places the
    # chord's counter (`relier.results`); a chain's first step has its root id
    root = canvas.get("group_id") or canvas.get("root_id")
    return placement_for(cell_key=cell_key, canvas_root=str(root) if root else None,
                         idempotency_digest=idempotency_digest(spec, args, kwargs),
                         task_id=task_id, unique=unique)


class _Attempts:
    """The cells one push tries, in order, and why each one refused it."""

    def __init__(self, cells: Cells, spec: TaskSpec, placement: Placement, task_id: str | None,
                 unique: str) -> None:
        self.cells, self.spec, self.placement = cells, spec, placement
        self.task_id, self.unique = task_id, unique
        self.refusals: list[tuple[str, str]] = []

    def order(self) -> tuple[str, ...]:
        return self.placement.cells(self.cells.names)

    def task_id_in(self, cell: str) -> str:
        return self.task_id or new_task_id(cell, self.unique)

    def refused(self, cell: str, exc: Exception) -> None:
        """Note `cell`'s refusal; raises at once when the task may not move."""
        if not self.placement.is_pinned:
            self.refusals.append((cell, f"{type(exc).__name__}: {exc}"))
            return
        if isinstance(exc, AdmissionRejectedError):
            raise exc
        raise CellUnavailableError(self.spec.name, cell, self.placement.source, exc) from exc

    def draining(self, cell: str) -> None:
        """Note that `cell` is being drained; raises at once when the task may not move."""
        if self.placement.is_pinned:
            raise CellDrainingError(self.spec.name, cell, self.placement.source)
        self.refusals.append((cell, "draining (rl cells drain)"))

    def none_accepted(self) -> NoCellAcceptedError:
        return NoCellAcceptedError(self.spec.name, self.refusals)


def _attempts(cells: Cells, spec: TaskSpec, args: Sequence[Any], kwargs: Mapping[str, Any], *,
              cell_key: object, task_id: str | None, options: Mapping[str, Any]) -> _Attempts:
    unique = str(uuid.uuid4())
    placement = placement_of(spec, args, kwargs, cell_key=cell_key, task_id=task_id,
                             call=options.get("call"), unique=unique)
    return _Attempts(cells, spec, placement, task_id, unique)


def dispatch_placed(cells: Cells, spec: TaskSpec, args: Sequence[Any], kwargs: Mapping[str, Any],
                    *, cell_key: object = None, task_id: str | None = None,
                    **options: Any) -> TaskHandle:
    """`relier.dispatch.dispatch` in the task's cell. Raises `CellUnavailableError` (a task
    that may not move, its cell down), `NoCellAcceptedError` (no cell took a task that could
    go to any), `CellDrainingError` (a task that may not move, its cell drained),
    `AdmissionRejectedError` (its own cell's admission), or what dispatch raises."""
    if not cells.is_sharded:
        return dispatch(cells.home, spec, args, kwargs, task_id=task_id, **options)
    attempts = _attempts(cells, spec, args, kwargs, cell_key=cell_key, task_id=task_id,
                         options=options)
    for cell in attempts.order():
        try:
            if cells.is_draining(cell):
                attempts.draining(cell)
                continue
            return dispatch(cells.runtime(cell), spec, args, kwargs,
                            task_id=attempts.task_id_in(cell), **options)
        except (*UNAVAILABLE, AdmissionRejectedError) as exc:
            attempts.refused(cell, exc)
    raise attempts.none_accepted()


async def adispatch_placed(cells: Cells, spec: TaskSpec, args: Sequence[Any],
                           kwargs: Mapping[str, Any], *, cell_key: object = None,
                           task_id: str | None = None, **options: Any) -> TaskHandle:
    """`dispatch_placed` from asyncio code."""
    if not cells.is_sharded:
        return await adispatch(cells.home, spec, args, kwargs, task_id=task_id, **options)
    attempts = _attempts(cells, spec, args, kwargs, cell_key=cell_key, task_id=task_id,
                         options=options)
    for cell in attempts.order():
        try:
            draining = (await asyncio.to_thread(cells.is_draining, cell)  # off the event loop
                        if cells.drain_is_stale(cell) else cells.is_draining(cell))
            if draining:
                attempts.draining(cell)
                continue
            return await adispatch(cells.runtime(cell), spec, args, kwargs,
                                   task_id=attempts.task_id_in(cell), **options)
        except (*UNAVAILABLE, AdmissionRejectedError) as exc:
            attempts.refused(cell, exc)
    raise attempts.none_accepted()
