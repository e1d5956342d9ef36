"""What a running task body can ask about its own attempt."""

from __future__ import annotations

from contextvars import ContextVar, Token
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TaskContext:
    """The attempt running in this process.

    ``fence`` grows with every attempt of the task; carry it to your own storage and reject
    writes with a lower value to make side effects safe against a paused or partitioned worker.
    """

    task_id: str
    task_name: str
    queue: str
    attempt: int
    fence: int
    worker: str


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
