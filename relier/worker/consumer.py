"""A consumer bootstep: after every (re)connection, return what Celery forgot.

When a worker's broker connection closes, Celery clears the requests it had reserved but not
yet handed to the pool ("they can't be acked anyway"). relier still has them as ``reserved`` by
this worker, whose lease stays alive, so nothing else would ever re-queue them. Each time the
consumer starts, this step re-queues (new ticket, front of the queue) every task the worker
holds reserved that is not an active request.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import bootsteps
from celery.worker.state import active_requests

from relier.runtime import runtime_of
from relier.worker.identity import worker_node

logger = logging.getLogger("relier.worker")


class ReturnReserved(bootsteps.StartStopStep):  # type: ignore[misc]  # celery ships no types
    requires = ("celery.worker.consumer.tasks:Tasks",)

    def start(self, c: Any) -> None:
        runtime = runtime_of(c.app)
        if runtime is None:
            return
        node = worker_node(c.hostname)
        active = {request.id for request in tuple(active_requests)}
        try:
            returned = runtime.store.return_reserved(node, active, runtime.front())
        except Exception:  # the next reconnect tries again; reconciliation logs what stays stuck
            logger.exception("could not return the tasks this worker had reserved")
            return
        if returned:
            logger.warning("consumer (re)started: returned %d reserved task(s) to their queues",
                           returned)

    def shutdown(self, c: Any) -> None:
        """Warm shutdown: prefetched tasks that never started go back to their queues now."""
        self.start(c)


#: Seconds between checks for exited pool processes (Celery's own timer runs every 5 s).
POOL_CHECK_INTERVAL = 0.1


class WatchPoolProcesses(bootsteps.StartStopStep):  # type: ignore[misc]  # celery ships no types
    """Notice a dead pool process within `POOL_CHECK_INTERVAL`, not Celery's 5 s.

    The prefork pool learns of a child's exit from its sentinel fd, but when the sentinel turns
    readable before the kernel reports the exit status, the pool stops watching it and only its
    5 s ``maintain_pool`` timer finds the dead child. Measured: half of SIGKILLed pool processes
    were reported about 5 s late. Calling ``maintain_pool`` on a short hub timer bounds that, and
    with it the fast path's re-queue (``RelierRequest.on_failure``).
    """

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def __init__(self, c: Any, **kwargs: Any) -> None:
        super().__init__(c, **kwargs)
        self._entry: Any = None

    def start(self, c: Any) -> None:
        hub = getattr(c, "hub", None)
        maintain = getattr(getattr(c.pool, "_pool", None), "maintain_pool", None)
        if hub is None or maintain is None:
            return
        self._entry = hub.call_repeatedly(POOL_CHECK_INTERVAL, maintain)

    def stop(self, c: Any) -> None:
        if self._entry is not None:
            self._entry.cancel()
            self._entry = None
