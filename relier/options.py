"""Celery's per-call options (`apply_async`) mapped to relier's, or refused with the way to do it.

Every option keeps its Celery meaning: ``countdown``/``eta`` delay the task (relier's delayed
set, pushed by the resurrector when due), ``expires`` cancels it if it has not started by then,
``time_limit``/``soft_time_limit`` replace the task's timeouts for this call, ``headers`` reach
``self.request`` like Celery's, ``queue``/``routing_key``/``priority`` choose where it goes.
All of them are signed in the envelope. Options relier cannot honour raise
`UnsupportedOptionError` naming the alternative, never silently ignored.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from relier.errors import UnsupportedCanvasError

#: Headers Celery's protocol owns: a call may not set them (one would replace the task's id).
_PROTOCOL_HEADERS = frozenset({
    "lang", "task", "id", "shadow", "eta", "expires", "group", "group_index", "retries",
    "timelimit", "root_id", "parent_id", "argsrepr", "kwargsrepr", "origin", "ignore_result",
    "replaced_task_nesting", "stamped_headers", "stamps", "chord", "callbacks", "errbacks",
    "chain", "compression", "content-type", "content-encoding", "correlation_id", "reply_to",
})

#: Options accepted and without effect on a relier task, and why.
_NO_EFFECT = {
    "ignore_result": "relier keeps every task's record and result for RELIER_RESULT_TTL",
    "add_to_parent": "a parent's children are not tracked",
    "retry_policy": "push retries follow RELIER_PUSH_RETRY_WINDOW",
    "producer": "relier pushes through its own connection",
    "connection": "relier pushes through its own connection",
    "publisher": "relier pushes through its own connection",
    "stamped_headers": "stamping is not carried",
    "stamps": "stamping is not carried",
    "reply_to": "results are read from relier's record, never replied to",
    "replaced_task_nesting": "a replaced relier task's record names its replacement",
    "throw": "an apply() option (eager mode): apply_async raises nothing from the body",
}

#: Options that cannot work on a relier task, with what to do instead.
_REFUSED = {
    "shadow": "relier names a task by its registered name; log your own display name instead",
    "serializer": "relier messages are signed msgpack envelopes; drop serializer=",
    "compression": "relier messages are not compressed; drop compression=",
    "exchange": "relier pushes straight to a queue (the default direct exchange): use queue= "
                "or task_routes",
}

#: Canvas options: signed into the envelope, continued by relier (`relier.canvas`).
_SIGNATURES = ("link", "link_error", "chain")
_IDS = ("group_id", "root_id", "parent_id")


class UnsupportedOptionError(UnsupportedCanvasError):
    """An `apply_async` option relier cannot honour on this task; the message says what to do."""


@dataclass(frozen=True, slots=True)
class CallOptions:
    """One call's options in relier's terms (times aware, in UTC)."""

    queue: str | None = None
    priority: int | None = None
    #: An absolute time to run at (``eta``), or seconds from now (``countdown``): a relative
    #: delay is measured on the Redis server's clock, not this process's.
    eta: datetime.datetime | None = None
    countdown: float | None = None
    expires: datetime.datetime | None = None
    expires_in: float | None = None
    time_limit: float | None = None
    soft_time_limit: float | None = None
    has_time_limits: bool = False
    headers: Mapping[str, Any] = field(default_factory=dict)
    retry: bool = True
    #: Celery's canvas around the call (`relier.envelope.Envelope.canvas`).
    canvas: Mapping[str, Any] = field(default_factory=dict)
    #: What logs show for the arguments (Celery's ``argsrepr``/``kwargsrepr``); None: relier's
    #: own rendering of them.
    argsrepr: str | None = None
    kwargsrepr: str | None = None


def _aware(moment: datetime.datetime) -> datetime.datetime:
    """Celery reads a naive datetime as UTC (``enable_utc``, its default)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=datetime.UTC)


def _seconds(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise UnsupportedOptionError(f"{name}= must be a number of seconds, got {value!r}")
    return float(value)


def _when(name: str, value: Any) -> tuple[datetime.datetime | None, float | None]:
    """(an absolute time, or seconds from now)."""
    if isinstance(value, datetime.datetime):
        return _aware(value), None
    if isinstance(value, str):
        try:
            return _aware(datetime.datetime.fromisoformat(value)), None
        except ValueError:
            raise UnsupportedOptionError(f"{name}= is not an ISO 8601 time: {value!r}") from None
    return None, _seconds(name, value)


def _headers(task: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise UnsupportedOptionError(f"{task}: headers= must be a dict, got {type(value).__name__}")
    taken = sorted(str(key) for key in value if key in _PROTOCOL_HEADERS or not isinstance(key, str))
    if taken:
        raise UnsupportedOptionError(
            f"{task}: headers= may not set {', '.join(taken)}: Celery's protocol owns them")
    return dict(value)


def _queue(task: str, options: Mapping[str, Any]) -> str | None:
    queue = options.get("queue")
    if queue is not None and not isinstance(queue, str):
        queue = getattr(queue, "name", None)  # a kombu Queue
        if not isinstance(queue, str):
            raise UnsupportedOptionError(f"{task}: queue= must be a queue name")
    routing_key = options.get("routing_key")
    if routing_key is not None and routing_key != (queue or routing_key):
        raise UnsupportedOptionError(
            f"{task}: routing_key={routing_key!r} differs from queue={queue!r}: relier pushes to "
            "a queue's own list, so name the queue")
    return queue or routing_key


def _signatures(task: str, name: str, value: Any) -> list[dict[str, Any]]:
    items = [value] if isinstance(value, Mapping) else value
    if not isinstance(items, list | tuple) or not all(
            isinstance(item, Mapping) and isinstance(item.get("task"), str) for item in items):
        raise UnsupportedOptionError(f"{task}: {name}= must be a signature or a list of them")
    return [dict(item) for item in items]


def _canvas(task: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """The canvas options, checked; Celery passes them when a task is a step of a chain, a
    group or a chord, or has callbacks."""
    canvas: dict[str, Any] = {}
    for name in _SIGNATURES:
        if options.get(name):
            canvas[name] = _signatures(task, name, options[name])
    chord = options.get("chord")
    if chord is not None:
        if not isinstance(chord, Mapping) or not isinstance(chord.get("task"), str):
            raise UnsupportedOptionError(f"{task}: chord= must be the chord's body signature")
        canvas["chord"] = dict(chord)
    for name in _IDS:
        value = options.get(name)
        if value is not None:
            if not isinstance(value, str):
                raise UnsupportedOptionError(f"{task}: {name}= must be a task id string")
            canvas[name] = value
    index = options.get("group_index")
    if index is not None:
        if isinstance(index, bool) or not isinstance(index, int):
            raise UnsupportedOptionError(f"{task}: group_index= must be a whole number")
        canvas["group_index"] = index
    if "chord" in canvas and "group_id" not in canvas:
        raise UnsupportedOptionError(f"{task}: chord= needs the header's group_id=")
    return canvas


def from_celery(task: str, options: Mapping[str, Any]) -> CallOptions:
    """`apply_async`'s keyword options (besides args, kwargs, task_id) for task `task`."""
    for name, why in _REFUSED.items():
        value = options.get(name)
        if value is not None and not (name == "serializer" and value == "relier") and not (
                name == "exchange" and value in ("", "celery")):
            raise UnsupportedOptionError(f"{task}: {name}= cannot apply: {why}")
    known = {"queue", "routing_key", "priority", "countdown", "eta", "expires", "time_limit",
             "soft_time_limit", "headers", "retry", "chord", "group_index", "argsrepr",
             "kwargsrepr", *_NO_EFFECT,
             *_REFUSED, *_SIGNATURES, *_IDS}
    unknown = sorted(set(options) - known)
    if unknown:
        raise UnsupportedOptionError(
            f"{task}: unknown apply_async option(s) {', '.join(unknown)}: relier carries only "
            "the options it signs (Celery's stamping and extra message properties are not "
            "among them); pass your own values as headers={...}, signed and read in the task "
            "as self.request.<name>")
    if options.get("countdown") is not None and options.get("eta") is not None:
        raise UnsupportedOptionError(f"{task}: give countdown= or eta=, not both")
    eta, countdown = (None, None)
    if options.get("countdown") is not None:
        countdown = _seconds("countdown", options["countdown"])
    elif options.get("eta") is not None:
        eta, countdown = _when("eta", options["eta"])
    expires, expires_in = (None, None)
    if options.get("expires") is not None:
        expires, expires_in = _when("expires", options["expires"])
    priority = options.get("priority")
    if priority is not None and (isinstance(priority, bool) or not isinstance(priority, int)):
        raise UnsupportedOptionError(f"{task}: priority= must be a whole number 0-9")
    limits = {name: options.get(name) for name in ("time_limit", "soft_time_limit")}
    for name, value in limits.items():
        if value is not None and _seconds(name, value) <= 0:
            raise UnsupportedOptionError(f"{task}: {name}= must be positive seconds")
    return CallOptions(
        queue=_queue(task, options), priority=priority, eta=eta, countdown=countdown,
        expires=expires, expires_in=expires_in,
        time_limit=limits["time_limit"], soft_time_limit=limits["soft_time_limit"],
        has_time_limits=any(value is not None for value in limits.values()),
        headers=_headers(task, options["headers"]) if options.get("headers") else {},
        retry=bool(options.get("retry", True)),
        canvas=_canvas(task, options),
        argsrepr=_display(task, "argsrepr", options.get("argsrepr")),
        kwargsrepr=_display(task, "kwargsrepr", options.get("kwargsrepr")),
    )


def _display(task: str, name: str, value: Any) -> str | None:
    """Celery's ``argsrepr``/``kwargsrepr``: what logs, events and ``inspect`` show instead
    of the arguments (to keep secrets out of them)."""
    if value is None or isinstance(value, str):
        return value
    raise UnsupportedOptionError(f"{task}: {name}= must be a string, got {type(value).__name__}")
