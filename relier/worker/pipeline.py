"""The execution pipeline a pool process runs for every relier message.

Order: migrate arguments -> **start** (fence and attempt) -> body (inside its timers and
telemetry span) -> **complete** or **fail**, each creating the task's canvas continuations
with it (`relier.canvas`). A body that could not be decoded or verified never gets here as
an envelope: it is kept as a raw dead letter and ignored.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import functools
import logging
import os
import time
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

import redis
from celery.exceptions import Ignore, Retry, TimeLimitExceeded
from celery.result import ResultBase

from relier import telemetry
from relier.canvas import Canvas, Outcome
from relier.context import TaskContext, bind_context, unbind_context
from relier.envelope import DecodeFailure, Envelope, decode_value, encode_value
from relier.errors import CheckpointTooLargeError, FencedOffError, ResultEncodingError
from relier.raw_dead_letters import DeadLetterKeeper, RawDeadLetter, Refusal
from relier.reasons import DeadLetterReason
from relier.replacing import Replaced
from relier.retry import RetryPolicy
from relier.schema import Arguments, MigrationChain, MigrationError, SchemaTooNewError
from relier.spec import TaskSpec
from relier.store import StartRefusal, Store
from relier.worker.identity import is_pool_process, process_id, worker_node
from relier.worker.loop import PROCESS_LOOP
from relier.worker.timeouts import AttemptTimers

logger = logging.getLogger("relier.worker")


#: Exit status of a pool process that could not record a transition (EX_TEMPFAIL).
EXIT_REDIS_UNREACHABLE = 75

T = TypeVar("T")


def _transition(record: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a store transition; if Redis stays unreachable, give the attempt up.

    A pool process exits, so the pool parent's fast path (or the resurrector, once its lease
    expires) re-queues the task: nothing stays ``running`` under a live process that can no
    longer finish it. In solo and threads pools the error propagates instead.
    """
    try:
        return record(*args, **kwargs)
    except redis.RedisError as exc:
        if not is_pool_process():
            raise
        logger.critical("cannot record %s in Redis (%s): pool process %d exits so its task is "
                        "recovered", record.__name__, exc, os.getpid())
        logging.shutdown()
        os._exit(EXIT_REDIS_UNREACHABLE)


def _elapsed_ms(since: float) -> int:
    return int((time.monotonic() - since) * 1000)


def _run_body(spec: TaskSpec, arguments: Arguments, ctx: TaskContext, timers: AttemptTimers) -> Any:
    if not spec.is_async:
        token = bind_context(ctx)
        try:
            return spec.func(*arguments.args, **arguments.kwargs)
        finally:
            unbind_context(token)

    async def with_context() -> Any:
        token = bind_context(ctx)
        try:
            return await spec.func(*arguments.args, **arguments.kwargs)
        finally:
            unbind_context(token)

    timers.future = asyncio.run_coroutine_threadsafe(with_context(), PROCESS_LOOP.loop())
    return timers.future.result()


def _count_start(spec: TaskSpec, envelope: Envelope) -> None:
    telemetry.count("relier.tasks.started", task=spec.name)
    if envelope.created_ms:
        telemetry.record("relier.task.queue_wait",
                         max(0.0, time.time() - envelope.created_ms / 1000), task=spec.name)
    telemetry.count("relier.tasks.inflight", 1, task=spec.name)


def as_signed(spec: TaskSpec, envelope: Envelope) -> TaskSpec:
    """`spec` with the time limits and retry policy the envelope was signed with (a producer
    and a worker on different code during a deploy may disagree; the message decides)."""
    policy = spec.retry
    if envelope.time_limits == spec.time_limits and (
            envelope.retries, envelope.retry_backoff, envelope.retry_backoff_max) == (
            policy.retries, policy.backoff, policy.backoff_max):
        return spec
    return dataclasses.replace(
        spec, hard_timeout=envelope.time_limit, soft_timeout=envelope.soft_time_limit,
        retry=RetryPolicy(envelope.retries, envelope.retry_backoff, envelope.retry_backoff_max,
                          policy.retry_on))


class Pipeline:
    """Runs one delivered copy of a task through the state machine."""

    def __init__(
        self,
        store: Store,
        migrations: Callable[[str], MigrationChain],
        max_result_bytes: int,
        keeper: DeadLetterKeeper,
        *,
        max_checkpoint_bytes: int = 1 << 20,
        canvas: Canvas | None = None,
    ) -> None:
        self._store = store
        self._canvas = canvas
        self._migrations = migrations
        self._max_result_bytes = max_result_bytes
        self._max_checkpoint_bytes = max_checkpoint_bytes
        self._keeper = keeper

    def run_delivered(self, spec: TaskSpec, delivered: Envelope | DecodeFailure, request: Any) -> Any:
        """Run what Celery delivered to the task: an envelope through `execute`; a body that
        failed to decode or verify (the consumer's strategy was bypassed) as a raw dead letter,
        then `Ignore`."""
        tag = str((request.properties or {}).get("delivery_tag", ""))
        queue = str((request.delivery_info or {}).get("routing_key") or spec.queue)
        if isinstance(delivered, DecodeFailure):
            self._keeper.keep(RawDeadLetter(delivered.raw, queue, Refusal(
                delivered.reason, delivered.error,
                {"id": request.id, "task": request.task, "delivery_tag": tag})))
            raise Ignore
        return self.execute(spec, delivered, tag, request.hostname or "", queue, request=request)

    def _migrate(self, spec: TaskSpec, envelope: Envelope, tag: str, worker: str) -> Arguments:
        chain = self._migrations(spec.name)
        try:
            return chain.upgrade(envelope.version, Arguments(envelope.args, envelope.kwargs))
        except SchemaTooNewError as exc:
            status = _transition(self._store.bounce, envelope.id, tag, worker,
                                 DeadLetterReason.SCHEMA_UNSUPPORTED, str(exc),
                                 idem=envelope.idempotency_key or "")
            logger.warning("task %s %s bounced for a newer worker: %s (%s)",
                           spec.name, envelope.id, exc, status)
            raise Ignore from None
        except MigrationError as exc:
            reason, error = DeadLetterReason.MIGRATION_FAILED, str(exc)
        status = _transition(self._store.reject, envelope.id, tag, worker, reason, error,
                             idem=envelope.idempotency_key or "")
        logger.error("task %s %s not run: %s (%s)", spec.name, envelope.id, error, status)
        raise Ignore

    def execute(self, spec: TaskSpec, envelope: Envelope, tag: str, hostname: str,
                queue: str | None = None, *, request: Any = None) -> Any:
        """Run the body if this copy may start; raises `Ignore` when it may not. `queue` is the
        queue the copy came from (the task's declared queue when not given)."""
        queue = queue or spec.queue
        spec = as_signed(spec, envelope)
        worker = worker_node(hostname)
        arguments = self._migrate(spec, envelope, tag, worker)
        process = process_id(hostname)
        idem = envelope.idempotency_key or ""
        grant = _transition(self._store.start, envelope.id, tag, worker, process, idem=idem)
        if isinstance(grant, StartRefusal):
            logger.info(
                "task %s %s copy %s not started: %s (state %s)",
                spec.name, envelope.id, tag, grant.status, grant.state,
            )
            raise Ignore
        ctx = TaskContext(
            task_id=envelope.id,
            task_name=spec.name,
            queue=queue,
            attempt=grant.attempt,
            fence=grant.fence,
            worker=process,
            partial=decode_value(grant.checkpoint) if grant.checkpoint else None,
            idempotency_key=envelope.idempotency_key,
            retries=grant.failures,
            _save_partial=functools.partial(self._save_checkpoint, envelope.id, grant.fence),
            canvas=envelope.canvas,
        )
        if request is not None:
            request.retries = grant.failures  # Celery's self.request.retries
            request.eta = envelope.eta  # the message's eta header stays empty (relier delays it)
        began = time.monotonic()
        timers = AttemptTimers(
            spec, ctx, celery_enforces=is_pool_process(),
            on_hard=functools.partial(self._hard_timeout, spec, ctx, tag, envelope),
        )
        _count_start(spec, envelope)
        try:
            with telemetry.execute_span(spec.name, envelope.id, queue, envelope.trace,
                                        attempt=ctx.attempt, fence=ctx.fence, worker=process), \
                    timers:
                result = _run_body(spec, arguments, ctx, timers)
        except (asyncio.CancelledError, concurrent.futures.CancelledError):
            if timers.hard_fired.is_set():
                raise Ignore from None
            raise
        except Replaced as replaced:  # self.replace(): completed by its replacement
            if timers.hard_fired.is_set():
                raise Ignore from None
            self._complete_replaced(ctx, spec, envelope, replaced, began)
            raise Ignore(str(replaced)) from None  # Celery's own, to its main process
        except Retry as retry:  # self.retry(): a failure relier retries after its delay
            if timers.hard_fired.is_set():
                raise Ignore from None
            telemetry.count("relier.tasks.failed", task=spec.name)
            self._record_failure(ctx, spec, retry.exc or retry, DeadLetterReason.RETRIES_EXHAUSTED,
                                 began, requested=retry, envelope=envelope)
            raise
        except Exception as exc:
            if timers.hard_fired.is_set():
                raise Ignore from None  # already dead-lettered as hard_timeout
            telemetry.count("relier.tasks.failed", task=spec.name)
            self._record_failure(ctx, spec, exc, DeadLetterReason.RETRIES_EXHAUSTED, began,
                                 envelope=envelope)
            raise
        finally:
            telemetry.count("relier.tasks.inflight", -1, task=spec.name)
            telemetry.record("relier.task.duration", time.monotonic() - began, task=spec.name)
        self._complete(ctx, spec, envelope, result, began)
        return result

    def _complete(self, ctx: TaskContext, spec: TaskSpec, envelope: Envelope, result: Any,
                  began: float) -> None:
        """Store the result with the continuations it creates; `Ignore` when fenced off."""
        encoded = self._encode_result(ctx, spec, result, began, envelope)
        outcome = self._continuations(ctx, spec, envelope, result, began)
        status = _transition(
            self._store.complete, ctx.task_id, ctx.worker, ctx.fence, encoded, _elapsed_ms(began),
            idem=envelope.idempotency_key or "", idem_ttl=spec.idempotency_ttl,
            creates=outcome.creates, chord=outcome.chord,
        )
        if status != "ok":
            logger.warning(
                "task %s %s attempt %d: result rejected (%s), a newer attempt holds the fence",
                spec.name, ctx.task_id, ctx.attempt, status,
            )
            raise Ignore
        telemetry.count("relier.tasks.completed", task=spec.name)

    def _complete_replaced(self, ctx: TaskContext, spec: TaskSpec, envelope: Envelope,
                           replaced: Replaced, began: float) -> None:
        """End a task that replaced itself: its record names the replacement's last task,
        created (with the rest of the replacement) by this completion."""
        status = _transition(
            self._store.complete, ctx.task_id, ctx.worker, ctx.fence, encode_value(None),
            _elapsed_ms(began), idem=envelope.idempotency_key or "",
            idem_ttl=spec.idempotency_ttl, creates=replaced.creates,
            replaced_by=replaced.final_id,
        )
        if status != "ok":
            logger.warning("task %s %s attempt %d: replacement rejected (%s), a newer attempt "
                           "holds the fence", spec.name, ctx.task_id, ctx.attempt, status)
            return
        logger.info("task %s %s replaced by %s", spec.name, ctx.task_id, replaced.final_id)
        telemetry.count("relier.tasks.completed", task=spec.name)

    def _continuations(self, ctx: TaskContext, spec: TaskSpec, envelope: Envelope, result: Any,
                       began: float) -> Outcome:
        """What the completion creates (`relier.canvas`); a continuation that cannot be applied
        fails the task, as Celery fails a task whose callback cannot be sent."""
        if self._canvas is None or not envelope.canvas:
            return Outcome([])
        try:
            return self._canvas.on_success(envelope, result)
        except Exception as exc:
            self._record_failure(ctx, spec, exc, DeadLetterReason.RETRIES_EXHAUSTED, began,
                                 envelope=envelope)
            raise

    def _save_checkpoint(self, task_id: str, fence: int, state: Any) -> None:
        encoded = encode_value(state)
        if len(encoded) > self._max_checkpoint_bytes:
            raise CheckpointTooLargeError(
                f"checkpoint of {len(encoded)} bytes is over RELIER_MAX_CHECKPOINT_BYTES "
                f"({self._max_checkpoint_bytes})"
            )
        if _transition(self._store.checkpoint, task_id, fence, encoded) != "ok":
            raise FencedOffError(
                f"task {task_id}: checkpoint rejected, fence {fence} is no longer current"
            )

    def dead_letter_outcome(self, envelope: Envelope | None, exc: BaseException) -> Outcome:
        """What a dead letter of `envelope`'s task creates (errbacks, its chord part) and calls
        after (`relier.canvas`); nothing when it has no canvas, or its errbacks cannot be
        applied (the dead letter is recorded all the same)."""
        if self._canvas is None or envelope is None or not envelope.canvas:
            return Outcome([])
        try:
            return self._canvas.on_dead_letter(envelope, exc)
        except Exception:  # a bad errback must not keep the failure from being recorded
            logger.exception("task %s %s: its errbacks cannot be applied", envelope.task,
                             envelope.id)
            return Outcome([])

    def _hard_timeout(self, spec: TaskSpec, ctx: TaskContext, tag: str,
                      envelope: Envelope | None = None) -> None:
        """Threads, solo and greenlet pools: record the hard timeout from a timer thread."""
        seconds = spec.hard_timeout or 0.0
        outcome = self.dead_letter_outcome(envelope, TimeLimitExceeded(seconds))
        status = self._store.hard_timeout(
            ctx.task_id, tag, ctx.worker, seconds, idem=ctx.idempotency_key or "",
            creates=outcome.creates, chord=outcome.chord,
        )
        if status == "ok" and outcome.after is not None:
            outcome.after()
        if spec.is_async:
            logger.error("task %s %s hit its hard timeout (%g s): cancelled, dead-lettered (%s)",
                         spec.name, ctx.task_id, seconds, status)
        else:
            logger.error(
                "task %s %s hit its hard timeout (%g s): dead-lettered (%s); this pool cannot "
                "stop a sync body, so it runs on fenced off (its writes are rejected)",
                spec.name, ctx.task_id, seconds, status,
            )

    def _encode_result(self, ctx: TaskContext, spec: TaskSpec, result: Any, began: float,
                       envelope: Envelope) -> bytes:
        if isinstance(result, ResultBase):  # Celery stores a returned result as its ids
            result = result.as_tuple()
        try:
            encoded = encode_value(result)
        except TypeError as exc:
            error = ResultEncodingError(
                f"task {spec.name} returned a {type(result).__name__}, which msgspec cannot "
                f"encode: {exc}"
            )
        else:
            if len(encoded) <= self._max_result_bytes:
                return encoded
            error = ResultEncodingError(
                f"task {spec.name} returned {len(encoded)} bytes, over RELIER_MAX_RESULT_BYTES "
                f"({self._max_result_bytes})"
            )
        self._record_failure(ctx, spec, error, DeadLetterReason.RESULT_UNENCODABLE, began,
                             envelope=envelope)
        raise error

    def _record_failure(
        self, ctx: TaskContext, spec: TaskSpec, exc: BaseException, reason: DeadLetterReason,
        began: float, *, requested: Retry | None = None, envelope: Envelope | None = None,
    ) -> None:
        """Record a failure; `requested` is a ``self.retry()`` (its own limit and delay). A
        dead letter creates the task's errbacks and chord part with it (`relier.canvas`)."""
        policy = spec.retry
        retryable = reason is DeadLetterReason.RETRIES_EXHAUSTED and policy.allows(exc)
        limit = policy.retries if retryable else 0
        delay = policy.delay(ctx.retries + 1) if retryable else 0.0  # by failure number
        if requested is not None:
            limit = int(getattr(requested, "relier_limit", policy.retries))
            delay = float(getattr(requested, "relier_delay", delay))
        outcome = self.dead_letter_outcome(envelope, exc)
        status = _transition(
            self._store.fail,
            ctx.task_id,
            ctx.worker,
            ctx.fence,
            reason=reason,
            exc_type=f"{type(exc).__module__}.{type(exc).__qualname__}",
            message=str(exc),
            traceback="".join(traceback.format_exception(exc)),
            runtime_ms=_elapsed_ms(began),
            idem=ctx.idempotency_key or "",
            retries=limit,
            retry_delay=delay,
            creates=outcome.creates,
            chord=outcome.chord,
        )
        if status == "dead_lettered" and outcome.after is not None:
            outcome.after()
        if status == "dead_lettered":
            telemetry.count("relier.tasks.dead_lettered", task=spec.name, reason=reason.value)
            telemetry.event_span("relier.dead_letter", ctx.task_id, reason=reason.value)
        if status == "scheduled":
            telemetry.count("relier.tasks.retried", task=spec.name)
            logger.warning("task %s %s attempt %d failed (%s); retry scheduled",
                           spec.name, ctx.task_id, ctx.attempt, type(exc).__name__)
        elif status not in {"dead_lettered", "again"}:
            logger.warning(
                "task %s attempt %d: failure not recorded (%s), a newer attempt holds the fence",
                ctx.task_id, ctx.attempt, status,
            )
