"""What a running task body can ask about its own attempt."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class TaskContext:
    """The attempt running in this process.

    ``fence`` grows with every attempt of the task; carry it to your own storage and reject
    writes with a lower value to make side effects safe against a paused or partitioned worker.
    ``partial`` is the last checkpoint an earlier attempt saved with `set_partial`, or None.
    ``idempotency_key`` (idempotent tasks) is the call's key: use it to key side effects at
    their resource (an order id, a payment's idempotency key) so they land once.
    """

    task_id: str
    task_name: str
    queue: str
    attempt: int
    fence: int
    worker: str
    partial: Any = None
    idempotency_key: str | None = None
    #: Failures recorded before this attempt (what Celery calls ``request.retries``).
    retries: int = 0
    _save_partial: Callable[[Any], None] | None = field(default=None, repr=False, compare=False)
    #: The envelope's canvas (`relier.envelope.Envelope.canvas`), for ``self.replace()``.
    canvas: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def set_partial(self, state: Any) -> None:
        """Save a checkpoint for the next attempt (resurrection, handoff, dead-letter release).

        Fenced: raises `relier.FencedOffError` if a newer attempt holds the task, and
        `relier.CheckpointTooLargeError` over RELIER_MAX_CHECKPOINT_BYTES.
        """
        if self._save_partial is None:
            raise RuntimeError("this context cannot save checkpoints")
        self._save_partial(state)

    async def aset_partial(self, state: Any) -> None:
        """`set_partial` for async bodies, without blocking the event loop."""
        await asyncio.to_thread(self.set_partial, state)


_current: ContextVar[TaskContext | None] = ContextVar("relier_task_context", default=None)


def current_context() -> TaskContext:
    """The running attempt's context; raises `RuntimeError` outside a relier task body."""
    ctx = _current.get()
    if ctx is None:
        raise RuntimeError("current_context() called outside a running relier task")
    return ctx


def bind_context(ctx: TaskContext | None) -> Token[TaskContext | None]:
    return _current.set(ctx)


def unbind_context(token: Token[TaskContext | None]) -> None:
    _current.reset(token)
