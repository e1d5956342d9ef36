"""A Celery codebase made reliable in one line: ``Relier(app, all_tasks=True)``.

Its tasks are declared the Celery way (``@app.task``, ``@shared_task``); none mentions relier.
"""

from __future__ import annotations

import os
from typing import Any

import redis
from celery import Celery, shared_task

from relier import Relier

app = Celery("everything", broker=os.environ["RELIER_REDIS_URL"])  # current, as a project's is
app.conf.task_default_queue = "everything"
relier = Relier(app, all_tasks=True)


def _count(key: str) -> int:
    return int(redis.Redis.from_url(os.environ["RELIER_REDIS_URL"]).incr(key))


@app.task
def multiply(a: int, b: int) -> int:
    return a * b


@shared_task(name="everything.flaky", autoretry_for=(ConnectionError,), max_retries=2,
             default_retry_delay=0.1)
def flaky(key: str) -> int:
    attempt = _count(f"test:flaky:{key}")
    if attempt < 3:
        raise ConnectionError(f"attempt {attempt} refused")
    return attempt


@app.task(bind=True, name="everything.who")
def who(self: Any) -> str:
    return str(self.request.id)


@app.task(name="everything.limits", soft_time_limit=2, time_limit=1)
def limits() -> str:
    return "soft above hard: relier refuses these timeouts"


@app.task(name="everything.pickled", serializer="pickle")
def pickled() -> str:
    return "plain"
