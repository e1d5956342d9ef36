"""Soft and hard timeouts of one attempt, for sync and async bodies.

Soft runs the task's ``on_soft_timeout(ctx)`` hook while the body keeps running (a chance to
checkpoint). Hard ends the attempt as a ``hard_timeout`` dead letter, never a resurrection.

In a prefork pool process both ride Celery's per-message time limit: billiard sends SIGUSR1 at
soft (relier's handler starts the hook instead of raising ``SoftTimeLimitExceeded``), and at
hard the pool parent records the dead letter (`RelierRequest.on_failure`) and billiard ends the
process and its process group. Threads and solo pools have no time limits, so relier runs its
own timers there: at hard an async body is cancelled on its loop, while a sync body cannot be
stopped and is fenced off instead (it runs on; its writes are rejected).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType, TracebackType
from typing import Any

from relier.context import TaskContext
from relier.spec import TaskSpec
from relier.worker.loop import PROCESS_LOOP

logger = logging.getLogger("relier.worker")

SignalHandler = Callable[[int, FrameType | None], Any] | int | None


def run_soft_hook(spec: TaskSpec, ctx: TaskContext) -> None:
    """Run the task's soft-timeout hook (sync or async) to completion; log what it raises."""
    logger.warning("task %s %s attempt %d passed its soft timeout (%s s)",
                   spec.name, ctx.task_id, ctx.attempt, spec.soft_timeout)
    hook = spec.on_soft_timeout
    if hook is None:
        return
    try:
        if inspect.iscoroutinefunction(hook):
            asyncio.run_coroutine_threadsafe(hook(ctx), PROCESS_LOOP.loop()).result()
        else:
            hook(ctx)
    except Exception:  # the hook is user code; the attempt goes on regardless
        logger.exception("on_soft_timeout of task %s %s raised", spec.name, ctx.task_id)


class AttemptTimers:
    """Arms the soft and hard timeouts of one attempt for the duration of a ``with`` block.

    `on_hard` records the hard timeout (threads and solo pools only); the body's future, when
    async, is cancelled after it.
    """

    def __init__(
        self,
        spec: TaskSpec,
        ctx: TaskContext,
        *,
        celery_enforces: bool,
        on_hard: Callable[[], None],
    ) -> None:
        self._spec = spec
        self._ctx = ctx
        self._celery_enforces = celery_enforces
        self._on_hard = on_hard
        self._timers: list[threading.Timer] = []
        self._previous_handler: SignalHandler = None
        self._installed = False
        self.future: concurrent.futures.Future[Any] | None = None
        self.hard_fired = threading.Event()

    def __enter__(self) -> AttemptTimers:
        spec = self._spec
        if spec.soft_timeout is not None:
            if self._celery_enforces and threading.current_thread() is threading.main_thread():
                self._previous_handler = signal.signal(signal.SIGUSR1, self._on_sigusr1)
                self._installed = True
            elif not self._celery_enforces:
                self._start_timer(spec.soft_timeout, self._fire_soft)
        if spec.hard_timeout is not None and not self._celery_enforces:
            self._start_timer(spec.hard_timeout, self._fire_hard)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for timer in self._timers:
            timer.cancel()
        if exc is not None and self.future is not None and not self.future.done():
            self.future.cancel()  # the body was ended (a greenlet pool's hard limit): stop it
        if self._installed:
            signal.signal(signal.SIGUSR1, self._previous_handler)
            self._installed = False

    def _start_timer(self, seconds: float, action: Callable[[], None]) -> None:
        timer = threading.Timer(seconds, action)
        timer.daemon = True
        timer.start()
        self._timers.append(timer)

    def _on_sigusr1(self, signum: int, frame: FrameType | None) -> None:
        # In a signal handler: hand the hook to a thread so it never runs inside a Redis call
        # the body was making, and so the body keeps running while it does.
        self._fire_soft()

    def _fire_soft(self) -> None:
        threading.Thread(
            target=run_soft_hook, args=(self._spec, self._ctx), name="relier-soft-timeout",
            daemon=True,
        ).start()

    def _fire_hard(self) -> None:
        self.hard_fired.set()
        try:
            self._on_hard()
        finally:
            if self.future is not None:
                self.future.cancel()
