"""Plain Celery (no relier) for ``python -m bench recovery``'s baseline arms.

Configured from the environment: ``BENCH_BROKER_URL`` and ``BENCH_ACKS_LATE=1`` for
``task_acks_late=True`` with ``task_reject_on_worker_lost=True`` (else Celery's defaults).
"""

from __future__ import annotations

import functools
import os
import time
from typing import Any

import redis
from celery import Celery

BROKER_URL = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:1/0")
ACKS_LATE = os.environ.get("BENCH_ACKS_LATE") == "1"

app = Celery("bench-vanilla", broker=BROKER_URL)
app.conf.update(broker_connection_retry_on_startup=True, task_default_queue="default")
if ACKS_LATE:
    app.conf.update(task_acks_late=True, task_reject_on_worker_lost=True)

@functools.cache
def client() -> redis.Redis:
    return redis.Redis.from_url(BROKER_URL)


def _work(self: Any, arm: str, seconds: float) -> None:
    """Same body as ``bench.recovery_work``."""
    task_id = self.request.id
    redis_client = client()
    redis_client.incr(f"bench:exec:{arm}:{task_id}")
    redis_client.hset(f"bench:running:{arm}", task_id, os.getpid())
    time.sleep(seconds)
    redis_client.hdel(f"bench:running:{arm}", task_id)
    redis_client.incr(f"bench:done:{arm}:{task_id}")
    redis_client.sadd(f"bench:done:{arm}", task_id)


work = app.task(name="bench.vanilla_work", bind=True)(_work)
