"""What the bench task modules share: the Redis client, app construction, counted bodies.

Imported inside workers (``bench/apps`` and the checkout are on their PYTHONPATH), and by the
benchmark process when it builds the same app to push with.
"""

from __future__ import annotations

import functools
import os
import time
from typing import Any

import redis
from celery import Celery

from relier import Relier
from relier.config import Settings


@functools.cache
def client() -> redis.Redis:
    """This process's client to the run's server (``RELIER_REDIS_URL``, set for workers)."""
    return redis.Redis.from_url(os.environ["RELIER_REDIS_URL"])


def relier_app(main: str, url: str, *, set_as_current: bool, **conf: Any) -> tuple[Celery, Relier]:
    """A Celery app on `url` (default queue relier's) with relier bound, `conf` applied."""
    settings = Settings.from_env({**os.environ, "RELIER_REDIS_URL": url})
    app = Celery(main, set_as_current=set_as_current)
    app.conf.update(
        broker_url=url,
        broker_connection_retry_on_startup=True,
        task_default_queue=settings.default_queue,
        **conf,
    )
    return app, Relier(app, settings=settings)


def record_attempt(task_id: str, attempt: int, started: float) -> None:
    """Record which process ran `attempt` of `task_id` and when its body started."""
    client().hset(f"bench:attempt:{task_id}:{attempt}",
                  mapping={"pid": os.getpid(), "start": repr(started)})


def begin_work(arm: str, task_id: str) -> None:
    """Count a body start of `task_id` for `arm` and mark this process as running it."""
    redis_client = client()
    redis_client.incr(f"bench:exec:{arm}:{task_id}")
    redis_client.hset(f"bench:running:{arm}", task_id, os.getpid())


def finish_work(arm: str, task_id: str) -> None:
    """Unmark the running task and count its completion (per id, and in the arm's set)."""
    redis_client = client()
    redis_client.hdel(f"bench:running:{arm}", task_id)
    redis_client.incr(f"bench:done:{arm}:{task_id}")
    redis_client.sadd(f"bench:done:{arm}", task_id)


def counted_work(arm: str, task_id: str, seconds: float) -> None:
    """The delivery body: count the execution, sleep `seconds`, count the completion."""
    begin_work(arm, task_id)
    time.sleep(seconds)
    finish_work(arm, task_id)
