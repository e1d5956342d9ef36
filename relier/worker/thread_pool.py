"""Celery's threads pool, waking the worker's event loop when a thread frees.

With ``worker_disable_prefetch`` a worker fetches a message only while a slot is free. The
prefork pool's processes answer through pipes the event loop watches, so a freed process is
noticed at once; a thread finishing a task tells the loop nothing, and the loop sleeps until
its next timer (about a second) before it fetches again. This pool writes one byte to a pipe
the loop watches after each task's completion callback (which frees the slot), so the next
fetch starts at once: no message waits reserved in the worker, as with prefork.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from typing import Any

from celery.concurrency.thread import ApplyResult
from celery.concurrency.thread import TaskPool as ThreadTaskPool


class Waker:
    """A pipe whose reading end an event loop watches; `wake()` may be called from any thread."""

    def __init__(self) -> None:
        self.read_fd, self.write_fd = os.pipe()
        os.set_blocking(self.read_fd, False)
        os.set_blocking(self.write_fd, False)

    def wake(self) -> None:
        # A full pipe already has the loop's attention; a closed one belongs to a stopped pool.
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self.write_fd, b"\0")

    def drain(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            while os.read(self.read_fd, 4096):
                pass

    def close(self) -> None:
        for fd in (self.read_fd, self.write_fd):
            with contextlib.suppress(OSError):
                os.close(fd)


class WakingThreadPool(ThreadTaskPool):  # type: ignore[misc]
    """``-P threads`` as relier runs it: Celery's pool plus a wake-up after every task."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._waker: Waker | None = None
        self._hub: Any = None

    def register_with_event_loop(self, hub: Any) -> None:
        super().register_with_event_loop(hub)
        if self._waker is None:
            self._waker = Waker()
        self._hub = hub
        hub.add_reader(self._waker.read_fd, self._waker.drain)

    def on_apply(self, target: Callable[..., Any], args: tuple[Any, ...] | None = None,
                 kwargs: dict[str, Any] | None = None,
                 callback: Callable[..., Any] | None = None,
                 accept_callback: Callable[..., Any] | None = None,
                 **options: Any) -> ApplyResult:
        return super().on_apply(target, args, kwargs, self._waking(callback), accept_callback,
                                **options)

    def _waking(self, callback: Callable[..., Any] | None) -> Callable[..., Any] | None:
        waker = self._waker
        if waker is None or callback is None:  # no event loop: nothing sleeps on a slot
            return callback

        def completed(*args: Any, **kwargs: Any) -> Any:
            try:
                return callback(*args, **kwargs)
            finally:
                waker.wake()

        return completed

    def on_stop(self) -> None:
        super().on_stop()
        waker, self._waker = self._waker, None
        if waker is not None:
            if self._hub is not None:
                with contextlib.suppress(Exception):
                    self._hub.remove_reader(waker.read_fd)
            waker.close()
