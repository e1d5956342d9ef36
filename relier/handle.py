"""Handles returned by push/apush: a task's state and result, read from relier's record."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Protocol, cast

from relier.envelope import decode_value
from relier.errors import TaskFailedError, TaskNotFoundError
from relier.runtime import Runtime
from relier.states import TaskState


class HasRuntime(Protocol):
    """Anything holding a runtime: a `Relier`, a relier task (``task.relier``)."""

    @property
    def runtime(self) -> Runtime: ...

_FIELDS = ("state", "result", "reason", "exc_type", "error")
_FIRST_POLL = 0.002
_MAX_POLL = 0.05


def _outcome(task_id: str, values: list[bytes | None]) -> tuple[bool, Any]:
    """(finished, value) from an HMGET of `_FIELDS`; raises for failed or missing tasks."""
    state_raw, result, reason, exc_type, error = values
    if state_raw is None:
        raise TaskNotFoundError(f"no record for task {task_id} (never pushed, or expired)")
    state = TaskState(state_raw.decode())
    if state is TaskState.COMPLETED:
        return True, decode_value(result) if result is not None else None
    if state.is_terminal:
        raise TaskFailedError(
            task_id,
            state.value,
            (reason or b"").decode(),
            (exc_type or b"").decode(),
            (error or b"").decode(),
        )
    return False, None


class TaskHandle:
    """A pushed task. Cheap to create; every read goes to Redis."""

    __slots__ = ("_runtime", "existing", "id")

    def __init__(self, task_id: str, runtime: Runtime | HasRuntime, *,
                 existing: bool = False) -> None:
        self.id = task_id
        #: True when push found the task already recorded and pushed nothing new.
        self.existing = existing
        self._runtime = runtime if isinstance(runtime, Runtime) else runtime.runtime

    def __repr__(self) -> str:
        return f"TaskHandle(id={self.id!r})"

    @property
    def cell(self) -> str:
        """The cell the task lives in (RELIER_CELLS); "" with one Redis."""
        return self._runtime.cell

    @property
    def state(self) -> TaskState:
        raw = cast(bytes | None, self._runtime.store.client.hget(self._runtime.keys.record(self.id), "state"))
        if raw is None:
            raise TaskNotFoundError(f"no record for task {self.id} (never pushed, or expired)")
        return TaskState(raw.decode())

    async def astate(self) -> TaskState:
        client = self._runtime.connections.for_running_loop()
        raw = cast(bytes | None, await client.hget(self._runtime.keys.record(self.id), "state"))
        if raw is None:
            raise TaskNotFoundError(f"no record for task {self.id} (never pushed, or expired)")
        return TaskState(raw.decode())

    def result(self, timeout: float | None = 30.0) -> Any:
        """Wait for the result; raises `TaskFailedError`, or `TimeoutError` after `timeout` s."""
        client = self._runtime.store.client
        key = self._runtime.keys.record(self.id)
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = _FIRST_POLL
        while True:
            finished, value = _outcome(self.id, cast(list[bytes | None], client.hmget(key, _FIELDS)))
            if finished:
                return value
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"task {self.id} not finished after {timeout} s")
            time.sleep(delay)
            delay = min(delay * 2, _MAX_POLL)

    async def aresult(self, timeout: float | None = 30.0) -> Any:
        """Async `result`: never blocks the event loop."""
        client = self._runtime.connections.for_running_loop()
        key = self._runtime.keys.record(self.id)
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = _FIRST_POLL
        while True:
            finished, value = _outcome(self.id, cast(list[bytes | None], await client.hmget(key, _FIELDS)))
            if finished:
                return value
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"task {self.id} not finished after {timeout} s")
            await asyncio.sleep(delay)
            delay = min(delay * 2, _MAX_POLL)
