"""relier tasks for ``python -m bench recovery``, declared on the ready app ``relier.tasks.app``.

Every attempt records in Redis when its body started (``time.time()``) and in which process, so
the benchmark can time a kill against the start of the next attempt.
"""

from __future__ import annotations

import functools
import os
import time

import redis

from relier import current_context, rl_task


@functools.cache
def client() -> redis.Redis:
    return redis.Redis.from_url(os.environ["RELIER_REDIS_URL"])


@rl_task(name="bench.recovery_hold")
def hold(seconds: float) -> int:
    """Attempt 1 records (pid, start time) and sleeps; later attempts record and return."""
    started = time.time()
    ctx = current_context()
    client().hset(f"bench:attempt:{ctx.task_id}:{ctx.attempt}",
                  mapping={"pid": os.getpid(), "start": repr(started)})
    if ctx.attempt == 1:
        time.sleep(seconds)
    return ctx.attempt


@rl_task(name="bench.recovery_work")
def work(arm: str, seconds: float) -> None:
    """The delivery body: count the execution, sleep, count the completion."""
    task_id = current_context().task_id
    redis_client = client()
    redis_client.incr(f"bench:exec:{arm}:{task_id}")
    redis_client.hset(f"bench:running:{arm}", task_id, os.getpid())
    time.sleep(seconds)
    redis_client.hdel(f"bench:running:{arm}", task_id)
    redis_client.incr(f"bench:done:{arm}:{task_id}")
    redis_client.sadd(f"bench:done:{arm}", task_id)
