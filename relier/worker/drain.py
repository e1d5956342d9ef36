"""Graceful shutdown with a real handoff.

On a warm shutdown (SIGTERM to the worker's main process), Celery stops consuming and waits
for running tasks with no time limit. relier bounds that wait: running relier tasks may finish
until RELIER_DRAIN_TIMEOUT; then each attempt still running is marked for handoff, its soft
hook runs (checkpoint) for up to RELIER_HANDOFF_HOOK_TIMEOUT, its pool process (and process
group) is killed, and only once the process is gone is the task re-queued at the front of its
queue with a new fence and ticket, recorded as a handoff, not a resurrection. The stopped body
really stopped before its handoff was queued, so no task runs twice.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

from celery.worker.state import active_requests

from relier import telemetry
from relier.procinfo import is_gone
from relier.store import Store
from relier.worker.identity import worker_node

logger = logging.getLogger("relier.drain")
_POLL = 0.05


def _wait(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL)
    return True


def _running_relier_requests() -> list[Any]:
    return [request for request in tuple(active_requests)
            if getattr(request.task, "relier", None) is not None and request.worker_pid]


class Drainer:
    """Runs the drain-then-handoff sequence once, in a thread of the worker's main process."""

    def __init__(self, store: Store, hostname: str, drain_timeout: float,
                 hook_timeout: float) -> None:
        self._store = store
        self._hostname = hostname
        self._drain_timeout = drain_timeout
        self._hook_timeout = hook_timeout
        self._thread = threading.Thread(target=self._run, name="relier-drain", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        try:
            if _wait(lambda: not _running_relier_requests(), self._drain_timeout):
                return
            self.hand_off(_running_relier_requests())
        except Exception:  # the node's lease expires after exit; the resurrector takes the rest
            logger.exception("handoff failed; remaining tasks are recovered when the lease expires")

    def hand_off(self, requests: list[Any]) -> None:
        node = worker_node(self._hostname)
        marked = []
        for request in requests:
            tag = str(request._message.delivery_tag)
            if self._store.mark_handoff(request.id, tag, node) == "marked":
                marked.append((request, tag))
        with_hooks = [request.worker_pid for request, _ in marked
                      if request.task.spec.on_soft_timeout is not None
                      and request.task.spec.soft_timeout is not None]
        for pid in with_hooks:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGUSR1)
        if with_hooks:
            # the hooks run beside the bodies; give them their bounded time to checkpoint
            time.sleep(self._hook_timeout)
        for request, _ in marked:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(request.worker_pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError):
                os.kill(request.worker_pid, signal.SIGKILL)
        for request, tag in marked:
            pid = int(request.worker_pid)
            if not _wait(functools.partial(is_gone, pid), 10.0):
                logger.error("pool process %d did not exit; %s is left to its lease", pid, request.id)
                continue
            outcome = self._store.lost(
                request.id, tag,
                queue_list=request.task.runtime.broker_keys.queue_list(
                    str((request.delivery_info or {}).get("routing_key") or request.task.spec.queue), 0),
                process=f"{self._hostname}/{pid}", worker=node, cause="handoff at shutdown",
                idem=_digest(request),
            )
            logger.warning("task %s handed off at shutdown: %s", request.id, outcome)
            if outcome == "queued":
                telemetry.count("relier.tasks.handed_off", task=request.task.name)
                telemetry.event_span("relier.handoff", request.id, worker=node)


def _digest(request: Any) -> str:
    args = request.args or ()
    envelope = args[0] if args else None
    return str(getattr(envelope, "idempotency_key", "") or "")
