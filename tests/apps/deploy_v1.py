"""Version 1 of a task module, as the old workers of a rolling deploy run it."""

from __future__ import annotations

import os

import redis

from relier import current_context, rl_task

_client = redis.Redis.from_url(os.environ["RELIER_REDIS_URL"])


@rl_task(name="deploy.greet", queue="deploy", version=1)
def greet(name: str) -> dict[str, str]:
    _client.incr(f"test:exec:{current_context().task_id}")
    return {"by": "v1", "text": f"hi {name}"}
