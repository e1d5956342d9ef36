"""The fast path: the pool parent re-queues a dead pool process's task within milliseconds.

`RelierRequest.on_failure` runs in the worker's main process when billiard reports that the
process running (or about to run) a request died: OOM kill, SIGKILL, segfault, ``os._exit``.
"""

from __future__ import annotations

import logging
from typing import Any

from billiard.einfo import ExceptionWithTraceback
from billiard.exceptions import TimeLimitExceeded, WorkerLostError
from celery.worker.request import Request

from relier import telemetry
from relier.envelope import Envelope
from relier.worker.identity import runs_on_greenlets, worker_node

logger = logging.getLogger("relier.worker")


def _envelope(request: Request) -> Envelope | None:
    args = request.args or ()
    envelope = args[0] if args else None
    return envelope if isinstance(envelope, Envelope) else None


def _idempotency_digest(request: Request) -> str:
    envelope = _envelope(request)
    return envelope.idempotency_key or "" if envelope is not None else ""


def _unwrap(exc: BaseException) -> BaseException:
    inner = getattr(exc, "exc", None)
    return inner if isinstance(exc, ExceptionWithTraceback) and inner is not None else exc


class RelierRequest(Request):  # type: ignore[misc]  # celery ships no type information
    """Celery's request, plus relier's **lost** transition on a worker-lost failure."""

    def info(self, safe: bool = False) -> dict[str, Any]:
        """What ``inspect().active()`` (and ``reserved``, ``scheduled``) reply: the argument
        is relier's envelope, which no remote-control serializer encodes, so the safe
        renderings stand for it."""
        described: dict[str, Any] = super().info(safe=safe)
        if _envelope(self) is not None:
            described["args"], described["kwargs"] = self._argsrepr, self._kwargsrepr
        return described

    def on_failure(self, exc_info: Any, send_failed_event: bool = True, return_ok: bool = False) -> Any:
        exc = _unwrap(exc_info.exception)
        cancelled = self._already_cancelled or self._already_revoked
        if isinstance(exc, TimeLimitExceeded):
            self._dead_letter_hard_timeout()
        elif isinstance(exc, WorkerLostError | SystemExit | KeyboardInterrupt) and not cancelled:
            self._requeue_lost(exc)
        return super().on_failure(exc_info, send_failed_event=send_failed_event, return_ok=return_ok)

    def on_timeout(self, soft: bool, timeout: float) -> Any:
        """A greenlet pool ends the body at its hard limit by raising in its greenlet, then calls
        this (no failure follows): dead-letter it here."""
        if not soft and runs_on_greenlets():
            self._dead_letter_hard_timeout()
        return super().on_timeout(soft, timeout)

    def _dead_letter_hard_timeout(self) -> None:
        """Runs before billiard ends the pool process: fence the body off, dead-letter it."""
        runtime = self.task.runtime
        hostname = self.hostname or ""
        process = f"{hostname}/{self.worker_pid}" if self.worker_pid else worker_node(hostname)
        envelope = _envelope(self)
        signed = envelope.time_limit if envelope is not None else self.task.spec.hard_timeout
        seconds = signed or 0.0
        after = self.task.pipeline.dead_letter_outcome(envelope, TimeLimitExceeded(seconds))
        try:
            outcome = runtime.store.hard_timeout(
                self.id, str(self._message.delivery_tag), process, seconds,
                idem=_idempotency_digest(self), retry=False,  # never block the consumer
                creates=after.creates, chord=after.chord,
            )
        except Exception:  # its lease expires with the killed process; the resurrector takes it
            logger.exception("could not record the hard timeout of %s", self.id)
            return
        logger.error("task %s hit its hard timeout (%g s): %s", self.id, seconds, outcome)
        if outcome == "ok" and after.after is not None:
            after.after()  # errbacks taking (request, exc, traceback), as Celery calls them here
        if outcome == "ok":
            telemetry.count("relier.tasks.dead_lettered", task=self.task.name, reason="hard_timeout")
            telemetry.event_span("relier.dead_letter", self.id, reason="hard_timeout")

    def _requeue_lost(self, exc: BaseException) -> None:
        runtime = self.task.runtime
        hostname = self.hostname or ""
        node = worker_node(hostname)
        process = f"{hostname}/{self.worker_pid}" if self.worker_pid else node
        tag = str(self._message.delivery_tag)
        queue = str((self.delivery_info or {}).get("routing_key") or self.task.spec.queue)
        try:
            outcome = runtime.store.lost(
                self.id, tag,
                queue_list=runtime.broker_keys.queue_list(queue, 0),
                process=process, worker=node, cause=f"{type(exc).__name__}: {exc}",
                idem=_idempotency_digest(self),
            )
        except Exception:  # the resurrector recovers it once the dead process's lease expires
            logger.exception("fast re-queue of %s failed; the resurrector will take it", self.id)
            return
        logger.warning("task %s lost its process %s: %s", self.id, process, outcome)
        if outcome == "queued":
            telemetry.count("relier.tasks.resurrected", task=self.task.name, path="fast")
            telemetry.event_span("relier.resurrect", self.id, worker=process)
