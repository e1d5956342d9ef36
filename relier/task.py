"""The Celery task class behind every ``@rl_task`` function."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from celery import Task
from celery.result import AsyncResult as CeleryResult

from relier import canvas
from relier.cell_dispatch import adispatch_placed, dispatch_placed
from relier.dispatch import prepare_dispatch
from relier.eager import EagerHandle, run_eagerly
from relier.envelope import DecodeFailure, Envelope
from relier.handle import TaskHandle
from relier.options import from_celery
from relier.replacing import replace
from relier.results import RelierAsyncResult
from relier.retrying import request_retry
from relier.schema import Migration, MigrationChain
from relier.spec import TaskSpec

if TYPE_CHECKING:
    from relier.cells import Cells
    from relier.placement import CellKey
    from relier.runtime import Runtime
    from relier.worker.pipeline import Pipeline

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

    #: The `Relier` facade that declared this task (for your code; relier's own uses `runtime`).
    relier: Any
    #: This process's own cell's runtime (the only one without RELIER_CELLS).
    runtime: Runtime
    #: Every cell's runtime: pushes are placed among them (`relier.cell_dispatch`).
    cells: Cells
    spec: TaskSpec
    pipeline: Pipeline
    migrations: MigrationChain

    def run(self, *args: Any, **kwargs: Any) -> Any:
        """Run a delivered envelope through the pipeline; any other call runs the function
        (in eager mode with a context, as a worker would)."""
        if len(args) == 1 and not kwargs and isinstance(args[0], Envelope | DecodeFailure):
            return self._run_delivered(args[0])
        if self.request.is_eager:
            return run_eagerly(self.spec, self.request, args, kwargs)
        return self.spec.func(*args, **kwargs)

    def check_arguments(self, args: Sequence[Any], kwargs: Mapping[str, Any]) -> None:
        """Celery's ``typing``: arguments the body cannot take raise `TypeError` at the call."""
        header = getattr(self, "__header__", None)
        if self.typing and header is not None:
            header(*args, **kwargs)

    def AsyncResult(self, task_id: str, **kwargs: Any) -> RelierAsyncResult:  # noqa: N802 - Celery's name
        """Celery's result for `task_id`, read from relier's record."""
        return RelierAsyncResult(task_id, backend=self.backend, app=self._get_app(), **kwargs)

    def starmap(self, it: Any) -> Any:
        """Celery's ``starmap``: one relier task calling this body once per argument tuple."""
        return canvas.starmap_signature(self, it)

    def map(self, it: Any) -> Any:
        """Celery's ``map``: one relier task calling this body once per item."""
        return canvas.starmap_signature(self, it, mapped=True)

    def chunks(self, it: Any, n: int) -> Any:
        """Celery's ``chunks``: a group of `starmap` tasks over `n` items each."""
        return canvas.RelierChunks(self.s(), it, n, app=self.app)

    def _run_delivered(self, delivered: Envelope | DecodeFailure) -> Any:
        return self.pipeline.run_delivered(self.spec, delivered, self.request)

    def push(self, *args: Any, **kwargs: Any) -> TaskHandle:
        """Dispatch from sync code (thread-safe). Returns once Redis has the task."""
        if self.app.conf.task_always_eager:
            return EagerHandle.run(self, args, kwargs)
        self.check_arguments(args, kwargs)
        return dispatch_placed(self.cells, self.spec, args, kwargs)

    async def apush(self, *args: Any, **kwargs: Any) -> TaskHandle:
        """Dispatch from asyncio code without blocking the event loop."""
        if self.app.conf.task_always_eager:
            return EagerHandle.run(self, args, kwargs)
        self.check_arguments(args, kwargs)
        return await adispatch_placed(self.cells, self.spec, args, kwargs)

    def push_with(
        self,
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        *,
        task_id: str | None = None,
        queue: str | None = None,
        priority: int | None = None,
        cell_key: CellKey | None = None,
    ) -> TaskHandle:
        """`push` with per-call options; an existing `task_id` returns that task's handle.
        With RELIER_CELLS, `cell_key` places the task (calls with the same key share a cell)."""
        self.check_arguments(args, kwargs or {})
        return dispatch_placed(self.cells, self.spec, args, kwargs or {}, cell_key=cell_key,
                               task_id=task_id, queue=queue, priority=priority)

    async def apush_with(
        self,
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        *,
        task_id: str | None = None,
        queue: str | None = None,
        priority: int | None = None,
        cell_key: CellKey | None = None,
    ) -> TaskHandle:
        """`push_with` from asyncio code."""
        self.check_arguments(args, kwargs or {})
        return await adispatch_placed(self.cells, self.spec, args, kwargs or {},
                                      cell_key=cell_key, task_id=task_id, queue=queue,
                                      priority=priority)

    def delay(self, *args: Any, **kwargs: Any) -> CeleryResult:
        """Celery's ``delay``: `apply_async` with these arguments."""
        return self.apply_async(args, kwargs)

    def apply_async(
        self,
        args: Sequence[Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
        task_id: str | None = None,
        **options: Any,
    ) -> CeleryResult:
        """Celery's ``apply_async`` with relier's guarantees: every option keeps its Celery
        meaning (`relier.options`) or is refused here naming the alternative. Returns Celery's
        `AsyncResult`, read from relier's record; ``task_always_eager`` runs the body inline.
        With RELIER_CELLS, ``cell_key=`` places the task as `push_with`'s does."""
        cell_key = options.pop("cell_key", None)
        call = from_celery(self.name, options)
        self.check_arguments(args or (), kwargs or {})
        if self.app.conf.task_always_eager:
            return cast(CeleryResult, self.apply(args, kwargs, task_id=task_id or str(uuid.uuid4())))
        if canvas.capturing_now():  # a continuation: created with the step that applies it
            prepared = prepare_dispatch(self.runtime, self.spec, args or (), kwargs or {},
                                        task_id=task_id or str(uuid.uuid4()), call=call)
            canvas.capture(prepared)
            return self.AsyncResult(prepared.task_id)
        handle = dispatch_placed(self.cells, self.spec, args or (), kwargs or {},
                                 cell_key=cell_key, task_id=task_id, call=call)
        return self.AsyncResult(handle.id)

    def retry(self, args: Any = None, kwargs: Any = None,  # noqa: PLR0917 - Celery's signature
              exc: BaseException | None = None,
              throw: bool = True, eta: Any = None, countdown: float | None = None,
              max_retries: int | None = None, **options: Any) -> Any:
        """Celery's ``self.retry()`` inside a bound relier task: this attempt ends as a
        failure that relier retries after `countdown` seconds (or at `eta`; else the task's
        ``default_retry_delay``), up to `max_retries` failures (else ``self.max_retries``);
        past them `exc` (or `MaxRetriesExceededError`) is raised. New `args`/`kwargs` are
        refused: relier retries the call that was signed."""
        return request_retry(self, args, kwargs, exc, throw, eta, countdown, max_retries,
                             options)

    def replace(self, sig: Any) -> Any:
        """Celery's ``self.replace(sig)``: this task ends and `sig`'s result becomes its own
        (`relier.replacing`); its callbacks, errbacks, chain and chord move to `sig`. In
        eager mode, Celery's own."""
        if self.request.is_eager:
            return super().replace(sig)
        return replace(self, sig)

    def migration(self, from_version: int) -> Callable[[Migration], Migration]:
        """Register the migration that upgrades arguments from `from_version` to the next."""

        def register(migration: Migration) -> Migration:
            self.migrations.register(from_version, migration)
            return migration

        return register
