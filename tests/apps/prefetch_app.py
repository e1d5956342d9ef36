"""A user's app that keeps Celery's prefetching on, so a worker holds reserved messages."""

from __future__ import annotations

import os
import time

import redis
from celery import Celery

from relier import Relier, current_context

app = Celery("prefetchapp", broker=os.environ["RELIER_REDIS_URL"], set_as_current=False)
app.conf.worker_disable_prefetch = False
app.conf.worker_prefetch_multiplier = 4
# Settings that make vanilla Celery re-queue a killed task itself; relier's per-task settings
# must win, or a killed task would run twice.
app.conf.task_acks_late = True
app.conf.task_reject_on_worker_lost = True
relier = Relier(app)
_client = redis.Redis.from_url(os.environ["RELIER_REDIS_URL"])


@relier.task(queue="prefetch", name="prefetch.hold")
def hold(seconds: float) -> int:
    ctx = current_context()
    _client.incr(f"test:exec:{ctx.task_id}")
    _client.set(f"test:pid:{ctx.task_id}:{ctx.attempt}", os.getpid())
    if ctx.attempt == 1:
        time.sleep(seconds)
    return ctx.attempt
