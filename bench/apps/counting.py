"""Counters the bench task bodies keep in Redis, for relier's apps and vanilla Celery's alike.

Imports no relier module, so that a vanilla worker loads nothing of relier (``python -m bench
memory`` compares their footprints). Used inside workers, where ``RELIER_REDIS_URL`` is set.
"""

from __future__ import annotations

import functools
import os
import time

import redis


@functools.cache
def client() -> redis.Redis:
    """This process's client to the run's server (``RELIER_REDIS_URL``, set for workers)."""
    return redis.Redis.from_url(os.environ["RELIER_REDIS_URL"])


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
