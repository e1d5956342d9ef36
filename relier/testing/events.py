"""Lifecycle events captured for assertions in tests."""

from __future__ import annotations

from typing import TYPE_CHECKING

from relier.devserver import wait_until
from relier.eventstream import EventStream

if TYPE_CHECKING:
    from relier.binding import Relier


class LifecycleEvents:
    """Lifecycle events written after this object was created, for assertions in tests:
    ``events = LifecycleEvents(relier)``, run things, then ``events.types_of(task_id)`` or
    ``events.wait_for(task_id, "completed", timeout=10)``."""

    def __init__(self, relier: Relier) -> None:
        self._stream = EventStream.of(relier.store)
        self._after = self._stream.newest_id()

    def read(self) -> list[dict[str, str]]:
        """Every event since creation, oldest first, as text (with its stream id as ``event_id``)."""
        return self._stream.read(self._after).events

    def types_of(self, task_id: str) -> list[str]:
        """The event types of one task, in order."""
        return [event["type"] for event in self._stream.read(self._after, task_id=task_id).events]

    def wait_for(self, task_id: str, event_type: str, *, timeout: float) -> dict[str, str]:
        """The first `event_type` event of `task_id`; `TimeoutError` at the deadline."""

        def found() -> dict[str, str] | None:
            events = self._stream.read(self._after, task_id=task_id, event_type=event_type).events
            return events[0] if events else None

        return wait_until(found, timeout=timeout,
                          message=lambda: f"no {event_type} event for {task_id}: {self.types_of(task_id)}")
