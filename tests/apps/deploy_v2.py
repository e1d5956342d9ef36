"""Version 2 of the same module: new arguments (with a migration) and a new task."""

from __future__ import annotations

import os

import redis

from relier import Arguments, current_context, rl_task

_client = redis.Redis.from_url(os.environ["RELIER_REDIS_URL"])


@rl_task(name="deploy.greet", queue="deploy", version=2)
def greet(*, full_name: str) -> dict[str, str]:
    _client.incr(f"test:exec:{current_context().task_id}")
    return {"by": "v2", "text": f"hi {full_name}"}


@greet.migration(from_version=1)
def _greet_v1_to_v2(arguments: Arguments) -> Arguments:
    return Arguments((), {"full_name": arguments.args[0]})


@rl_task(name="deploy.new_feature", queue="deploy")
def new_feature(value: int) -> dict[str, object]:
    _client.incr(f"test:exec:{current_context().task_id}")
    return {"by": "v2", "value": value}
