"""relier task for ``python -m bench shutdown``, on an app built per server by `make_app`.

The body has the same shape as ``vanilla_tasks.work`` (count the body start, sleep, count the
completion), in 50 ms steps so that relier's ``on_soft_timeout`` hook can checkpoint the step
reached when SIGTERM hands the task off; the next attempt resumes from it. Workers load
``shutdown_worker.app``, built from ``RELIER_REDIS_URL``.
"""

from __future__ import annotations

import functools
import os
import time
from dataclasses import dataclass

import redis
from celery import Celery

from relier import Relier, current_context
from relier.config import Settings
from relier.context import TaskContext
from relier.task import RelierTask

STEP_S = 0.05
#: Step reached per task id in this pool process, read by the checkpoint hook.
PROGRESS: dict[str, int] = {}


@functools.cache
def client() -> redis.Redis:
    return redis.Redis.from_url(os.environ["RELIER_REDIS_URL"])


def _checkpoint(ctx: TaskContext) -> None:
    ctx.set_partial({"step": PROGRESS.get(ctx.task_id, 0)})


def _work(arm: str, seconds: float) -> int:
    """Count the body start, sleep `seconds` in steps from the checkpoint, count completion."""
    ctx = current_context()
    redis_client = client()
    redis_client.incr(f"bench:exec:{arm}:{ctx.task_id}")
    redis_client.hset(f"bench:running:{arm}", ctx.task_id, os.getpid())
    start = int((ctx.partial or {}).get("step", 0))
    if start:
        redis_client.incr(f"bench:resumed:{arm}")
    for step in range(start, round(seconds / STEP_S)):
        PROGRESS[ctx.task_id] = step
        time.sleep(STEP_S)
    redis_client.hdel(f"bench:running:{arm}", ctx.task_id)
    redis_client.incr(f"bench:done:{arm}:{ctx.task_id}")
    redis_client.sadd(f"bench:done:{arm}", ctx.task_id)
    return start


@dataclass(frozen=True, slots=True)
class ShutdownApp:
    app: Celery
    relier: Relier
    work: RelierTask


def make_app(url: str, *, set_as_current: bool = False) -> ShutdownApp:
    """A Celery app on `url` with relier bound and the checkpointing bench task."""
    settings = Settings.from_env({**os.environ, "RELIER_REDIS_URL": url})
    app = Celery("bench-shutdown", set_as_current=set_as_current)
    app.conf.update(
        broker_url=url,
        broker_connection_retry_on_startup=True,
        task_default_queue=settings.default_queue,
    )
    relier = Relier(app, settings=settings)
    work = relier.task(name="bench.shutdown_work", soft_timeout=3600,
                       on_soft_timeout=_checkpoint)(_work)
    return ShutdownApp(app=app, relier=relier, work=work)
