"""push/apush: sign the envelope, build the message, and run the dispatch script once."""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from relier import telemetry
from relier.admission import NO_LIMIT
from relier.envelope import Envelope, seal
from relier.errors import AdmissionRejectedError, NotDurableError
from relier.handle import TaskHandle
from relier.keys import PRIORITY_STEPS
from relier.message import build_message
from relier.spec import MAX_PRIORITY, TaskSpec, build_spec, idempotency_digest

if TYPE_CHECKING:
    from relier.binding import Relier


@dataclass(frozen=True, slots=True)
class PreparedDispatch:
    """The dispatch script's KEYS and ARGV for one call."""

    task_id: str
    task_name: str
    keys: list[str]
    args: list[Any]
    durable: bool = False


def prepare_dispatch(
    relier: Relier,
    spec: TaskSpec,
    args: Sequence[Any],
    kwargs: Mapping[str, Any],
    *,
    task_id: str | None = None,
    queue: str | None = None,
    priority: int | None = None,
    trace: Mapping[str, str] | None = None,
) -> PreparedDispatch:
    """Sign and frame one call; raises `TypeError` for arguments msgspec cannot encode."""
    task_id = task_id or str(uuid.uuid4())
    target_queue = queue or spec.queue
    target_priority = spec.priority if priority is None else priority
    if not 0 <= target_priority <= MAX_PRIORITY:
        raise ValueError(f"priority must be between 0 and {MAX_PRIORITY}, got {target_priority}")
    digest = idempotency_digest(spec, args, kwargs)
    envelope = Envelope(
        task=spec.name,
        id=task_id,
        args=tuple(args),
        kwargs=dict(kwargs),
        version=spec.version,
        idempotency_key=digest or None,
        created_ms=time.time_ns() // 1_000_000,
        trace=dict(trace or {}),
    )
    kid, secret = relier.settings.signing_keys[0]
    message = build_message(
        task_name=spec.name,
        task_id=task_id,
        body=seal(envelope, kid, secret),
        queue=target_queue,
        priority=target_priority,
        time_limits=spec.time_limits,
        args=envelope.args,
        kwargs=envelope.kwargs,
    )
    keys = relier.keys
    return PreparedDispatch(
        task_id=task_id,
        task_name=spec.name,
        durable=spec.durable,
        keys=[
            keys.record(task_id),
            relier.broker_keys.queue_list(target_queue, target_priority),
            keys.events,
            keys.queued,
            keys.idempotency(digest),
            keys.admission_limits("queue", target_queue),
            keys.admission_state("queue", target_queue),
            keys.admission_limits("task", spec.name),
            keys.admission_state("task", spec.name),
            *(relier.broker_keys.queue_list(target_queue, step) for step in PRIORITY_STEPS),
        ],
        args=[
            task_id,
            spec.name,
            target_queue,
            message.head,
            message.tail,
            relier.settings.events_maxlen,
            spec.version,
            digest,
            spec.max_resurrections,
            relier.broker_keys.queue_list(target_queue, 0),
            *relier.queue_admission.get(target_queue, NO_LIMIT).as_args(),
            *(spec.admission or NO_LIMIT).as_args(),
        ],
    )


def _handle(relier: Relier, prepared: PreparedDispatch, reply: list[Any]) -> TaskHandle:
    """A handle on the new task, or on the task already holding this id or idempotency key;
    raises `AdmissionRejectedError` when admission refused the push."""
    if reply[0] == b"rejected":
        raise AdmissionRejectedError(
            prepared.task_name, reply[2].decode(), reply[3].decode(), int(reply[1]) / 1000
        )
    return TaskHandle(reply[1].decode(), relier, existing=reply[0] == b"exists")


def push(relier: Relier, prepared: PreparedDispatch) -> TaskHandle:
    if not prepared.durable:
        reply = relier.store.run_script("dispatch", prepared.keys, prepared.args)
        return _counted(_handle, relier, prepared, reply)
    settings = relier.settings
    reply, confirmed = relier.store.run_script_durably(
        "dispatch", prepared.keys, prepared.args, replicas=settings.durable_replicas,
        timeout=settings.durable_timeout)
    handle = _counted(_handle, relier, prepared, reply)
    _require_durable(relier, handle, confirmed)
    return handle


async def apush(relier: Relier, prepared: PreparedDispatch) -> TaskHandle:
    scripts = relier.connections.scripts_for_running_loop()
    if not prepared.durable:
        reply = await scripts.run("dispatch", prepared.keys, prepared.args)
        return _counted(_handle, relier, prepared, reply)
    settings = relier.settings
    pipe = relier.connections.for_running_loop().pipeline(transaction=False)
    await scripts.run("dispatch", prepared.keys, prepared.args, client=pipe)
    pipe.execute_command("WAITAOF", 1, settings.durable_replicas,
                         max(1, int(settings.durable_timeout * 1000)))
    reply, confirmed = await pipe.execute()
    handle = _counted(_handle, relier, prepared, reply)
    _require_durable(relier, handle, (int(confirmed[0]), int(confirmed[1])))
    return handle


def _require_durable(relier: Relier, handle: TaskHandle, confirmed: tuple[int, int]) -> None:
    fsynced, replicas = confirmed
    if fsynced < 1 or replicas < relier.settings.durable_replicas:
        raise NotDurableError(handle.id, fsynced, replicas, relier.settings.durable_replicas)


def _counted(handle: Any, relier: Relier, prepared: PreparedDispatch, reply: list[Any]) -> TaskHandle:
    try:
        result: TaskHandle = handle(relier, prepared, reply)
    except AdmissionRejectedError as exc:
        telemetry.count("relier.tasks.admission_rejected", task=exc.task, scope=exc.scope)
        raise
    if not result.existing:
        telemetry.count("relier.tasks.dispatched", task=prepared.task_name)
    return result


def dispatch(relier: Relier, spec: TaskSpec, args: Sequence[Any], kwargs: Mapping[str, Any],
             **options: Any) -> TaskHandle:
    """push, inside a producer span whose context travels in the envelope."""
    task_id = options.pop("task_id", None) or str(uuid.uuid4())
    queue = options.get("queue") or spec.queue
    with telemetry.dispatch_span(spec.name, task_id, queue) as carrier:
        return push(relier, prepare_dispatch(relier, spec, args, kwargs, task_id=task_id,
                                             trace=carrier, **options))


async def adispatch(relier: Relier, spec: TaskSpec, args: Sequence[Any],
                    kwargs: Mapping[str, Any], **options: Any) -> TaskHandle:
    """apush, inside a producer span whose context travels in the envelope."""
    task_id = options.pop("task_id", None) or str(uuid.uuid4())
    queue = options.get("queue") or spec.queue
    with telemetry.dispatch_span(spec.name, task_id, queue) as carrier:
        return await apush(relier, prepare_dispatch(relier, spec, args, kwargs, task_id=task_id,
                                                    trace=carrier, **options))


def push_by_name(relier: Relier, task_name: str, args: Sequence[Any], kwargs: Mapping[str, Any], *,
                 queue: str | None = None, version: int | None = None) -> TaskHandle:
    """Dispatch a task by its registered name, from a process that may not import its code
    (``rl push``, the console). An unknown name goes to `queue` (default RELIER_DEFAULT_QUEUE)
    as schema `version` (default 1); the worker that knows it decides.

    Raises `AdmissionRejectedError`, `redis.RedisError`."""
    task = relier.tasks.get(task_name)
    spec = task.spec if task is not None else build_spec(
        _unregistered, name=task_name, queue=queue or relier.settings.default_queue,
        version=version or 1, priority=0, soft_timeout=None, hard_timeout=None,
    )
    return dispatch(relier, spec, args, kwargs, queue=queue)


def _unregistered(*args: Any, **kwargs: Any) -> None:
    """Stands for a task this process does not import; only its name and queue are used."""
