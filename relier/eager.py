"""Eager mode (``task_always_eager``): a relier task's body runs inline, with a context.

`apply_async` and ``delay`` return Celery's `EagerResult`; `push` returns an `EagerHandle`
with the same reads as a `TaskHandle`. Nothing touches Redis; the body sees a
`TaskContext` (attempt 1, fence 0, worker ``eager``) as it would on a worker, and its
checkpoints are kept only for the call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from relier.context import TaskContext, bind_context, unbind_context
from relier.errors import TaskFailedError
from relier.handle import TaskHandle
from relier.spec import TaskSpec
from relier.states import TaskState


def _ignore_checkpoint(state: Any) -> None:
    """Eager runs have no later attempt to resume: a checkpoint is not kept."""


def run_eagerly(spec: TaskSpec, request: Any, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
    """The body, in this thread, inside a context like a worker's."""
    ctx = TaskContext(task_id=str(request.id), task_name=spec.name, queue=spec.queue,
                      attempt=int(request.retries or 0) + 1, fence=0, worker="eager",
                      retries=int(request.retries or 0), _save_partial=_ignore_checkpoint)
    token = bind_context(ctx)
    try:
        outcome = spec.func(*args, **kwargs)
        if not spec.is_async:
            return outcome
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(outcome)
        from relier.worker.loop import PROCESS_LOOP  # noqa: PLC0415 - only inside a running loop

        return asyncio.run_coroutine_threadsafe(outcome, PROCESS_LOOP.loop()).result()
    finally:
        unbind_context(token)


class EagerHandle(TaskHandle):
    """What `push` returns in eager mode: a handle on a body that already ran."""

    __slots__ = ("_eager",)

    def __init__(self, task_id: str, eager: Any) -> None:
        self.id = task_id
        self.existing = False
        self._eager = eager

    @classmethod
    def run(cls, task: Any, args: Sequence[Any], kwargs: Mapping[str, Any]) -> EagerHandle:
        eager = task.apply(tuple(args), dict(kwargs))
        return cls(eager.id, eager)

    @property
    def state(self) -> TaskState:
        return TaskState.COMPLETED if self._eager.successful() else TaskState.DEAD_LETTERED

    async def astate(self) -> TaskState:
        return self.state

    def result(self, timeout: float | None = 30.0) -> Any:
        if self._eager.successful():
            return self._eager.result
        exc = self._eager.result
        raise TaskFailedError(self.id, "dead_lettered", "retries_exhausted",
                              f"{type(exc).__module__}.{type(exc).__qualname__}", str(exc))

    async def aresult(self, timeout: float | None = 30.0) -> Any:
        return self.result(timeout)
