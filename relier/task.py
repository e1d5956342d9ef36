"""The Celery task class behind every ``@rl_task`` function."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from celery import Task

from relier.dispatch import adispatch, dispatch
from relier.envelope import DecodeFailure, Envelope
from relier.errors import ConfigurationError, UnsupportedCanvasError
from relier.handle import TaskHandle
from relier.schema import Migration, MigrationChain
from relier.spec import TaskSpec

if TYPE_CHECKING:
    from relier.runtime import Runtime
    from relier.worker.pipeline import Pipeline

_UNSUPPORTED_OPTIONS = {
    "link": "callbacks (link=) need a result backend; chain in your own code after result()",
    "link_error": "error callbacks (link_error=) need a result backend",
    "chord": "chords need a result backend",
    "countdown": "countdown= is not supported yet: push when the task is due",
    "eta": "eta= is not supported yet: push when the task is due",
    "expires": "expires= is not supported: relier tasks end completed or dead-lettered",
}


class RelierTask(Task):  # type: ignore[misc]  # celery ships no type information
    """A Celery task whose messages are relier envelopes and whose runs follow relier's state
    machine. Celery never re-queues or re-publishes these tasks: relier does."""

    Strategy = "relier.worker.strategy:relier_strategy"
    Request = "relier.worker.request:RelierRequest"
    acks_late = False
    reject_on_worker_lost = False
    retry_on_worker_lost = False
    ignore_result = True
    track_started = False
    typing = False

    #: The `Relier` facade that declared this task (for your code; relier's own uses `runtime`).
    relier: Any
    runtime: Runtime
    spec: TaskSpec
    pipeline: Pipeline
    migrations: MigrationChain

    def run(self, *args: Any, **kwargs: Any) -> Any:
        """Run a delivered envelope through the pipeline; any other call runs the function."""
        if len(args) == 1 and not kwargs and isinstance(args[0], Envelope | DecodeFailure):
            return self._run_delivered(args[0])
        return self.spec.func(*args, **kwargs)

    def _run_delivered(self, delivered: Envelope | DecodeFailure) -> Any:
        return self.pipeline.run_delivered(self.spec, delivered, self.request)

    def push(self, *args: Any, **kwargs: Any) -> TaskHandle:
        """Dispatch from sync code (thread-safe). Returns once Redis has the task."""
        return dispatch(self.runtime, self.spec, args, kwargs)

    async def apush(self, *args: Any, **kwargs: Any) -> TaskHandle:
        """Dispatch from asyncio code without blocking the event loop."""
        return await adispatch(self.runtime, self.spec, args, kwargs)

    def push_with(
        self,
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        *,
        task_id: str | None = None,
        queue: str | None = None,
        priority: int | None = None,
    ) -> TaskHandle:
        """`push` with per-call options; an existing `task_id` returns that task's handle."""
        return dispatch(self.runtime, self.spec, args, kwargs or {},
                        task_id=task_id, queue=queue, priority=priority)

    async def apush_with(
        self,
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        *,
        task_id: str | None = None,
        queue: str | None = None,
        priority: int | None = None,
    ) -> TaskHandle:
        return await adispatch(self.runtime, self.spec, args, kwargs or {},
                               task_id=task_id, queue=queue, priority=priority)

    def delay(self, *args: Any, **kwargs: Any) -> TaskHandle:
        """Celery's ``delay``, routed to `push`."""
        return self.push(*args, **kwargs)

    def apply_async(
        self,
        args: Sequence[Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
        task_id: str | None = None,
        **options: Any,
    ) -> TaskHandle:
        """Celery's ``apply_async``, routed to `push_with`; canvas options raise."""
        for option, why in _UNSUPPORTED_OPTIONS.items():
            if options.get(option) is not None:
                raise UnsupportedCanvasError(f"{self.name}: {why}")
        return self.push_with(
            args or (), kwargs or {},
            task_id=task_id, queue=options.get("queue"), priority=options.get("priority"),
        )

    def retry(self, *args: Any, **kwargs: Any) -> Any:
        raise ConfigurationError(
            f"{self.name}: self.retry() re-publishes the same task id outside relier's state "
            "machine; raise the exception and let relier record the failure instead"
        )

    def migration(self, from_version: int) -> Callable[[Migration], Migration]:
        """Register the migration that upgrades arguments from `from_version` to the next."""

        def register(migration: Migration) -> Migration:
            self.migrations.register(from_version, migration)
            return migration

        return register
