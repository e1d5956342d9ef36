"""``self.retry()`` in a relier task: Celery's semantics on relier's retry transition.

The attempt ends as a failure that `fail.lua` schedules again after the delay (the attempt is
in the task's history; the resurrector pushes it when due), up to ``max_retries`` failures;
past that the exception is raised, as Celery raises it. In eager mode Celery's own retry runs
(inline, again).
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from celery import Task
from celery.exceptions import MaxRetriesExceededError, Retry

from relier.context import current_context
from relier.errors import ConfigurationError

#: Failures allowed when ``max_retries=None`` (Celery: retry for ever).
UNLIMITED = 2**31 - 1


def _delay(task: Any, eta: Any, countdown: float | None) -> float:
    if countdown is not None:
        return max(0.0, float(countdown))
    if isinstance(eta, datetime.datetime):
        moment = eta if eta.tzinfo else eta.replace(tzinfo=datetime.UTC)
        return max(0.0, (moment - datetime.datetime.now(datetime.UTC)).total_seconds())
    return float(task.default_retry_delay or 0)


def request_retry(task: Any, args: Any, kwargs: Any,  # noqa: PLR0917 - Celery's retry() order
                  exc: BaseException | None, throw: bool,
                  eta: Any, countdown: float | None, max_retries: int | None,
                  options: Mapping[str, Any]) -> Any:
    """Raise Celery's `Retry` marked for relier's pipeline (see `RelierTask.retry`)."""
    if task.request.is_eager:
        return Task.retry(task, args=args, kwargs=kwargs, exc=exc, throw=throw, eta=eta,
                          countdown=countdown, max_retries=max_retries, **options)
    if args is not None or kwargs is not None:
        raise ConfigurationError(
            f"{task.name}: self.retry() with new arguments: relier retries the call its "
            "producer signed; push a new task with the new arguments instead")
    ctx = current_context()
    limit = task.max_retries if max_retries is None else max_retries
    limit = UNLIMITED if limit is None else int(limit)
    if ctx.retries >= limit:
        if exc is not None:
            raise exc
        raise MaxRetriesExceededError(
            f"Can't retry {task.name}[{ctx.task_id}] args:{task.request.args} "
            f"kwargs:{task.request.kwargs}")
    delay = _delay(task, eta, countdown)
    retry = Retry(exc=exc, when=delay)
    retry.relier_limit = limit
    retry.relier_delay = delay
    if throw:
        raise retry
    return retry
