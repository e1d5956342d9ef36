"""Celery's remote control, with revoke made persistent for relier tasks.

`Relier(app)` makes ``app.control`` a `RelierControl`. ``revoke`` (``AsyncResult.revoke()``,
``app.control.revoke()``, ``celery control revoke``, ``rl cancel``) first cancels each relier
task in Redis (`cancel.lua`: state ``cancelled``, Celery's REVOKED; ticket and fence move on,
so no queued copy, resurrection or handoff can run it again), then broadcasts Celery's own
revoke, which stops a running body when ``terminate=True`` (the pool process is signalled; its
loss is not a resurrection: the cancel already moved the ticket).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from celery.app.control import Control

from relier.cells import cells_of


class RelierControl(Control):  # type: ignore[misc]  # celery ships no type information
    """Celery's `Control`; a ``revoke`` broadcast (``revoke()``, ``celery control revoke``)
    first cancels the relier tasks it names in Redis, persistently."""

    def broadcast(self, command: str, arguments: dict[str, Any] | None = None,
                  *args: Any, **kwargs: Any) -> Any:
        if command == "revoke" and arguments:
            self._cancel(arguments.get("task_id"))
        return super().broadcast(command, arguments, *args, **kwargs)

    def _cancel(self, task_ids: str | Iterable[str] | None) -> None:
        cells = cells_of(self.app)
        if cells is None or task_ids is None:
            return
        for task_id in [task_ids] if isinstance(task_ids, str) else list(task_ids):
            cells.locate(str(task_id)).store.cancel(str(task_id), "revoked", by="revoke")
