"""``Relier(app, all_tasks=True)``: Celery task options mapped to relier's.

With the opt-in, every task the app declares (``@app.task``, ``@shared_task``) becomes a relier
task. Its Celery options keep their meaning where relier has one: the retry options of
``autoretry_for`` become relier's retry policy, time limits become relier's timeouts.
Options relier decides itself (acks, result storage, events) are accepted without effect. A
task with an option relier cannot honour (another serializer, a custom base class, Celery's
per-worker ``rate_limit``...) stays a plain Celery task, and the reason is kept
(`Relier.plain_tasks`) and logged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from relier.spec import TaskOptions

#: Celery's defaults for the retry options (``celery.app.task.Task``).
CELERY_MAX_RETRIES = 3
CELERY_DEFAULT_RETRY_DELAY = 180.0
CELERY_RETRY_BACKOFF_MAX = 600.0

#: Options relier decides itself: accepted, without effect.
_NO_EFFECT = frozenset({
    "ignore_result", "acks_late", "acks_on_failure_or_timeout", "track_started",
    "reject_on_worker_lost", "store_errors_even_if_ignored", "shared", "lazy",
    "trail", "send_events", "retry_jitter", "throws", "resultrepr_maxsize",
})
#: Options that keep a task plain, with the reason.
_REFUSED = {
    "serializer": "relier signs msgpack envelopes; another serializer cannot carry them",
    "rate_limit": ("Celery's per-worker rate limit does not apply to relier tasks; declare "
                   "admission= instead"),
    "expires": "a per-task default expiry: pass expires= per call",
    "pydantic": "pydantic argument validation is not applied to relier envelopes",
}


@dataclass(frozen=True, slots=True)
class Adoption:
    """What `Relier.task` gets for an adopted task, and the task class's Celery attributes
    (``max_retries``, ``default_retry_delay``: what ``self.retry()`` reads)."""

    options: TaskOptions
    attributes: dict[str, Any] = field(default_factory=dict)


def adopt(name: str, options: Mapping[str, Any], plain_base: type) -> Adoption | str:
    """`name`'s relier options from its Celery task options, or why it stays plain.
    `plain_base` is the app's own ``Task`` class (a task with another ``base=`` stays plain)."""
    base = options.get("base")
    if base is not None and base is not plain_base:
        return f"base={getattr(base, '__name__', base)!r}: relier tasks have relier's base class"
    for option, reason in _REFUSED.items():
        if options.get(option):
            return f"{option}=: {reason}"
    known = {"base", "name", "bind", "queue", "priority", "time_limit", "soft_time_limit",
             "autoretry_for", "max_retries", "retry_backoff", "retry_backoff_max",
             "default_retry_delay", "retry_kwargs", *_NO_EFFECT, *_REFUSED}
    unknown = sorted(set(options) - known)
    if unknown:
        return f"{', '.join(unknown)}=: not a Celery task option relier knows"
    mapped: TaskOptions = {"name": name, "bind": bool(options.get("bind"))}
    if options.get("queue"):
        mapped["queue"] = str(options["queue"])
    if options.get("priority") is not None:
        mapped["priority"] = int(options["priority"])
    if options.get("time_limit") is not None:
        mapped["hard_timeout"] = float(options["time_limit"])
    if options.get("soft_time_limit") is not None:
        mapped["soft_timeout"] = float(options["soft_time_limit"])
    mapped.update(_retry_policy(options))
    attributes = {key: options[key] for key in ("max_retries", "default_retry_delay", "typing")
                  if options.get(key) is not None}
    return Adoption(mapped, attributes)


def _retry_policy(options: Mapping[str, Any]) -> TaskOptions:
    """Celery's ``autoretry_for`` as relier's retry policy: without it an exception fails the
    task at once (``retries=0``); with it, up to ``max_retries`` retries (``retry_kwargs``
    first), exponential with ``retry_backoff``, else ``default_retry_delay`` (or the
    ``retry_kwargs`` countdown) between them."""
    retry_on = tuple(options.get("autoretry_for") or ())
    if not retry_on:
        return {"retries": 0}
    retry_kwargs = dict(options.get("retry_kwargs") or {})
    limit = retry_kwargs.get("max_retries", options.get("max_retries"))
    policy: TaskOptions = {"retry_on": retry_on,
                           "retries": CELERY_MAX_RETRIES if limit is None else int(limit)}
    backoff = options.get("retry_backoff")
    if backoff:
        policy["retry_backoff"] = 1.0 if backoff is True else float(backoff)
        policy["retry_backoff_max"] = float(options.get("retry_backoff_max")
                                            or CELERY_RETRY_BACKOFF_MAX)
    else:
        delay = float(retry_kwargs.get("countdown", options.get("default_retry_delay")
                                       or CELERY_DEFAULT_RETRY_DELAY))
        policy["retry_backoff"] = policy["retry_backoff_max"] = delay
    return policy
