"""push/apush: sign the envelope, build the message, and run the dispatch script once."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import secrets
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import redis

from relier import telemetry
from relier.admission import NO_LIMIT
from relier.envelope import Envelope, seal
from relier.errors import AdmissionRejectedError, NotDurableError, PushOutcomeUnknownError
from relier.handle import TaskHandle
from relier.keys import PRIORITY_STEPS
from relier.message import build_message
from relier.names import task_name_problem
from relier.options import CallOptions
from relier.publishing import celery_body, publish_signals
from relier.spec import MAX_PRIORITY, TaskSpec, build_spec, idempotency_digest
from relier.store import NewTask, ScriptCall

if TYPE_CHECKING:
    from relier.runtime import Runtime


@dataclass(frozen=True, slots=True)
class PreparedDispatch:
    """The dispatch script call for one push, and what the reply is read against."""

    task_id: str
    task_name: str
    call: ScriptCall
    nonce: str
    durable: bool = False
    #: Whether a push that got no answer is retried (Celery's ``retry=False`` turns it off).
    retry: bool = True
    #: The same task created by another transition instead (a continuation, `relier.canvas`).
    new_task: NewTask | None = None
    #: The queue it is pushed to.
    queue: str = ""
    #: Celery's protocol-2 body and the message's headers, for Celery's publish signals.
    celery_body: tuple[Any, ...] = ((), {}, {})
    headers: Mapping[str, Any] = field(default_factory=dict)

    def publish_signals(self) -> contextlib.AbstractContextManager[None]:
        """Celery's ``before_task_publish``/``after_task_publish`` around the push."""
        return publish_signals(self.task_name, self.task_id, self.celery_body, self.queue,
                               self.headers)


def _ms(moment: datetime.datetime | None) -> int | str:
    return int(moment.timestamp() * 1000) if moment is not None else ""


def _relative_ms(seconds: float | None) -> int | str:
    return int(seconds * 1000) if seconds is not None else ""


def _iso(moment: datetime.datetime | None, seconds: float | None) -> str | None:
    if moment is None and seconds is None:
        return None
    return (moment or datetime.datetime.now(datetime.UTC) + datetime.timedelta(
        seconds=seconds or 0)).isoformat()


def _time_limits(spec: TaskSpec, call: CallOptions) -> tuple[float | None, float | None]:
    """(hard, soft) for this call: the call's own limits replace the task's."""
    if not call.has_time_limits:
        return spec.hard_timeout, spec.soft_timeout
    hard, soft = call.time_limit, call.soft_time_limit
    if hard is not None and soft is not None and soft >= hard:
        raise ValueError(f"{spec.name}: soft_time_limit ({soft}) must be below time_limit ({hard})")
    return hard, soft


def prepare_dispatch(
    runtime: Runtime,
    spec: TaskSpec,
    args: Sequence[Any],
    kwargs: Mapping[str, Any],
    *,
    task_id: str | None = None,
    queue: str | None = None,
    priority: int | None = None,
    trace: Mapping[str, str] | None = None,
    call: CallOptions | None = None,
) -> PreparedDispatch:
    """Sign and frame one call; raises `TypeError` for arguments msgspec cannot encode and
    `ValueError` for options that cannot apply. `call` carries Celery's per-call options."""
    call = call or CallOptions()
    task_id = task_id or str(uuid.uuid4())
    target_queue = queue or call.queue or spec.route(args, kwargs)
    if target_queue != spec.queue:
        runtime.require_queue(target_queue)
    target_priority = next(value for value in (priority, call.priority, spec.priority)
                           if value is not None)
    if not 0 <= target_priority <= MAX_PRIORITY:
        raise ValueError(f"priority must be between 0 and {MAX_PRIORITY}, got {target_priority}")
    hard, soft = _time_limits(spec, call)
    digest = idempotency_digest(spec, args, kwargs)
    policy = spec.retry
    envelope = Envelope(
        task=spec.name,
        id=task_id,
        args=tuple(args),
        kwargs=dict(kwargs),
        version=spec.version,
        idempotency_key=digest or None,
        created_ms=time.time_ns() // 1_000_000,
        trace=dict(trace or {}),
        queue=target_queue,
        time_limit=hard,
        soft_time_limit=soft,
        eta=_iso(call.eta, call.countdown),
        expires=_iso(call.expires, call.expires_in),
        retries=policy.retries,
        retry_backoff=policy.backoff,
        retry_backoff_max=policy.backoff_max,
        headers=dict(call.headers),
        canvas=dict(call.canvas),
        key_prefix=runtime.keys.prefix,
    )
    kid, secret = runtime.settings.signing_keys[0]
    message = build_message(
        task_name=spec.name,
        task_id=task_id,
        body=seal(envelope, kid, secret),
        queue=target_queue,
        priority=target_priority,
        time_limits=envelope.time_limits,
        args=envelope.args,
        kwargs=envelope.kwargs,
        extra_headers=envelope.headers,
        canvas=envelope.canvas,
        argsrepr=call.argsrepr,
        kwargsrepr=call.kwargsrepr,
    )
    keys, broker = runtime.keys, runtime.broker_keys
    queue_limit = runtime.queue_admission.get(target_queue, NO_LIMIT)
    task_limit = spec.admission or NO_LIMIT
    nonce = secrets.token_hex(8)
    task_keys = {
        "record": keys.record(task_id),
        "list": broker.queue_list(target_queue, target_priority),
        "idem": keys.idempotency(digest),
    }
    task_args = {
        "task_id": task_id, "task_name": spec.name, "queue": target_queue,
        "message": message.packed, "version": spec.version,
        "idem_digest": digest, "max_resurrections": spec.max_resurrections,
        "front": broker.queue_list(target_queue, 0), "nonce": nonce,
        "due_ms": _ms(call.eta), "delay_ms": _relative_ms(call.countdown),
        "expires_ms": _ms(call.expires), "expires_in_ms": _relative_ms(call.expires_in),
    }
    script = runtime.store.contract.call(
        "dispatch",
        keys={
            **task_keys,
            "limits": keys.admission_live,
            "queue_tat": keys.admission_state("queue", target_queue),
            "task_tat": keys.admission_state("task", spec.name),
            **{f"step{step}": broker.queue_list(target_queue, step) for step in PRIORITY_STEPS},
        },
        args={
            **task_args,
            "queue_scope": keys.admission_scope("queue", target_queue),
            "task_scope": keys.admission_scope("task", spec.name),
            "queue_rate": queue_limit.rate, "queue_burst": queue_limit.burst,
            "queue_max_depth": queue_limit.max_depth,
            "task_rate": task_limit.rate, "task_burst": task_limit.burst,
            "task_max_depth": task_limit.max_depth,
        },
    )
    return PreparedDispatch(task_id=task_id, task_name=spec.name, call=script, nonce=nonce,
                            durable=spec.durable, retry=call.retry, queue=target_queue,
                            celery_body=celery_body(args, kwargs, envelope.canvas),
                            headers=message.headers,
                            new_task=NewTask(task_keys, {**task_args, "fail_reason": "",
                                                         "fail_error": "", "fail_exc_type": ""}))


def _handle(runtime: Runtime, prepared: PreparedDispatch, reply: list[Any]) -> TaskHandle:
    """A handle on the new task, or on the task already holding this id or idempotency key;
    raises `AdmissionRejectedError` when admission refused the push."""
    if reply[0] == b"rejected":
        raise AdmissionRejectedError(
            prepared.task_name, reply[2].decode(), reply[3].decode(), int(reply[1]) / 1000
        )
    ours = reply[0] == b"exists" and len(reply) > 2 and reply[2].decode() == prepared.nonce
    return TaskHandle(reply[1].decode(), runtime, existing=reply[0] == b"exists" and not ours)


#: A dispatch that got no answer may have run: these errors are retried under the same id.
_UNANSWERED = (redis.ConnectionError, redis.TimeoutError)


def never_sent(exc: BaseException) -> bool:
    """Whether redis-py failed while connecting, before any command was sent (it raises the
    same classes for a refused connection and for a reply lost after sending; only the
    connecting ones say "connecting")."""
    return "connecting to" in str(exc) or str(exc).startswith("Timeout connecting")


class _Retries:
    """Back-off between tries of one push, within RELIER_PUSH_RETRY_WINDOW.

    A first try that could not even connect queued nothing: its error is raised as it is. Once
    a try may have reached Redis, the outcome is unknown until a retry gets an answer.
    """

    def __init__(self, runtime: Runtime, prepared: PreparedDispatch) -> None:
        self._window = runtime.settings.push_retry_window if prepared.retry else 0.0
        self._deadline = time.monotonic() + self._window
        self._delay = 0.05
        self._prepared = prepared
        self._maybe_sent = False

    def next_delay(self, exc: BaseException) -> float:
        """Seconds before the next try; re-raises a first try that never connected, and
        raises `PushOutcomeUnknownError` past the window."""
        if not self._maybe_sent and never_sent(exc):
            raise exc
        self._maybe_sent = True
        delay, self._delay = self._delay, min(self._delay * 2, 1.0)
        if time.monotonic() + delay > self._deadline:
            raise PushOutcomeUnknownError(self._prepared.task_name, self._prepared.task_id,
                                          self._window, exc) from exc
        return delay


def push(runtime: Runtime, prepared: PreparedDispatch) -> TaskHandle:
    runtime.foreign.check(prepared.queue)
    retries = _Retries(runtime, prepared)
    with prepared.publish_signals():
        while True:
            try:
                return _push_once(runtime, prepared)
            except _UNANSWERED as exc:
                time.sleep(retries.next_delay(exc))


def _push_once(runtime: Runtime, prepared: PreparedDispatch) -> TaskHandle:
    if not prepared.durable:
        reply = runtime.store.run(prepared.call)
        return _counted(_handle, runtime, prepared, reply)
    settings = runtime.settings
    reply, confirmed = runtime.store.run_durably(
        prepared.call, replicas=settings.durable_replicas, timeout=settings.durable_timeout)
    handle = _counted(_handle, runtime, prepared, reply)
    _require_durable(runtime, handle, confirmed)
    return handle


async def apush(runtime: Runtime, prepared: PreparedDispatch) -> TaskHandle:
    if runtime.foreign.stale:  # a read every CHECK_INTERVAL, off the event loop
        await asyncio.to_thread(runtime.foreign.refresh)
    runtime.foreign.check(prepared.queue)
    retries = _Retries(runtime, prepared)
    with prepared.publish_signals():
        while True:
            try:
                return await _apush_once(runtime, prepared)
            except _UNANSWERED as exc:
                await asyncio.sleep(retries.next_delay(exc))


async def _apush_once(runtime: Runtime, prepared: PreparedDispatch) -> TaskHandle:
    scripts = runtime.connections.scripts_for_running_loop()
    if not prepared.durable:
        reply = await scripts.run("dispatch", prepared.call.keys, prepared.call.args)
        return _counted(_handle, runtime, prepared, reply)
    settings = runtime.settings
    pipe = runtime.connections.for_running_loop().pipeline(transaction=False)
    await scripts.run("dispatch", prepared.call.keys, prepared.call.args, client=pipe)
    pipe.execute_command("WAITAOF", 1, settings.durable_replicas,
                         max(1, int(settings.durable_timeout * 1000)))
    reply, confirmed = await pipe.execute()
    handle = _counted(_handle, runtime, prepared, reply)
    _require_durable(runtime, handle, (int(confirmed[0]), int(confirmed[1])))
    return handle


def _require_durable(runtime: Runtime, handle: TaskHandle, confirmed: tuple[int, int]) -> None:
    fsynced, replicas = confirmed
    if fsynced < 1 or replicas < runtime.settings.durable_replicas:
        raise NotDurableError(handle.id, fsynced, replicas, runtime.settings.durable_replicas)


def _counted(handle: Any, runtime: Runtime, prepared: PreparedDispatch, reply: list[Any]) -> TaskHandle:
    try:
        result: TaskHandle = handle(runtime, prepared, reply)
    except AdmissionRejectedError as exc:
        telemetry.count("relier.tasks.admission_rejected", task=exc.task, scope=exc.scope)
        raise
    if not result.existing:
        telemetry.count("relier.tasks.dispatched", task=prepared.task_name)
    return result


def dispatch(runtime: Runtime, spec: TaskSpec, args: Sequence[Any], kwargs: Mapping[str, Any],
             **options: Any) -> TaskHandle:
    """push, inside a producer span whose context travels in the envelope."""
    task_id = options.pop("task_id", None) or str(uuid.uuid4())
    queue = options.get("queue") or spec.queue
    with telemetry.dispatch_span(spec.name, task_id, queue) as carrier:
        return push(runtime, prepare_dispatch(runtime, spec, args, kwargs, task_id=task_id,
                                             trace=carrier, **options))


async def adispatch(runtime: Runtime, spec: TaskSpec, args: Sequence[Any],
                    kwargs: Mapping[str, Any], **options: Any) -> TaskHandle:
    """apush, inside a producer span whose context travels in the envelope."""
    task_id = options.pop("task_id", None) or str(uuid.uuid4())
    queue = options.get("queue") or spec.queue
    with telemetry.dispatch_span(spec.name, task_id, queue) as carrier:
        return await apush(runtime, prepare_dispatch(runtime, spec, args, kwargs, task_id=task_id,
                                                    trace=carrier, **options))


def push_by_name(runtime: Runtime, specs: Mapping[str, TaskSpec], task_name: str,
                 args: Sequence[Any], kwargs: Mapping[str, Any], *,
                 queue: str | None = None, version: int | None = None) -> TaskHandle:
    """Dispatch a task by its registered name, from a process that may not import its code
    (``rl push``, the console). An unknown name goes to `queue` (default RELIER_DEFAULT_QUEUE)
    as schema `version` (default 1); the worker that knows it decides.

    Raises `AdmissionRejectedError`, `redis.RedisError`, `ValueError` for a name that cannot
    be a relier task's or queue's."""
    known = specs.get(task_name)
    if known is None:
        problem = task_name_problem(task_name)
        if problem:
            raise ValueError(problem)
        runtime.require_queue(queue or runtime.settings.default_queue)
    spec = known if known is not None else build_spec(
        _unregistered, name=task_name, queue=queue or runtime.settings.default_queue,
        version=version or 1, priority=0, soft_timeout=None, hard_timeout=None,
    )
    return dispatch(runtime, spec, args, kwargs, queue=queue)


def _unregistered(*args: Any, **kwargs: Any) -> None:
    """Stands for a task this process does not import; only its name and queue are used."""
