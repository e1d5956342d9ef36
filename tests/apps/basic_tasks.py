"""Tasks for the integration suite, declared on the ready app ``relier.tasks.app``.

Every body counts its executions in Redis (``test:exec:<task id>``) so tests see duplicates.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from typing import Any

import redis

from relier import Arguments, current_context, rl_task

_client: redis.Redis | None = None


def client() -> redis.Redis:
    global _client
    if _client is None:
        _client = redis.Redis.from_url(os.environ["RELIER_REDIS_URL"])
    return _client


def count_execution() -> None:
    client().incr(f"test:exec:{current_context().task_id}")


@rl_task(name="tests.add")
def add(a: int, b: int) -> int:
    count_execution()
    return a + b


@rl_task(name="tests.echo_async", queue="high_priority")
async def echo_async(value: Any) -> dict[str, Any]:
    count_execution()
    await asyncio.sleep(0)
    ctx = current_context()
    return {"echo": value, "attempt": ctx.attempt, "fence": ctx.fence, "pid": os.getpid()}


@rl_task(name="tests.explode")
def explode(message: str) -> None:
    count_execution()
    raise ValueError(message)


@rl_task(name="tests.explode_async", queue="low_priority")
async def explode_async(key: str) -> None:
    count_execution()
    raise KeyError(key)


@rl_task(name="tests.unencodable")
def unencodable() -> object:
    count_execution()
    return object()


@rl_task(name="tests.greet", version=2)
def greet(*, full_name: str) -> str:
    count_execution()
    return f"hello {full_name}"


@greet.migration(from_version=1)
def _greet_v1_to_v2(arguments: Arguments) -> Arguments:
    kwargs = dict(arguments.kwargs)
    kwargs["full_name"] = f"{kwargs.pop('first')} {kwargs.pop('last')}"
    return Arguments(arguments.args, kwargs)


@rl_task(name="tests.broken_migration", version=2)
def broken_migration(value: int) -> int:
    count_execution()
    return value


@broken_migration.migration(from_version=1)
def _broken_v1_to_v2(arguments: Arguments) -> Arguments:
    raise RuntimeError("cannot upgrade")


@rl_task(name="tests.hold")
def hold(seconds: float) -> dict[str, int]:
    """The first attempt records its pid and sleeps; later attempts return at once."""
    ctx = current_context()
    count_execution()
    client().set(f"test:pid:{ctx.task_id}:{ctx.attempt}", os.getpid())
    if ctx.attempt == 1:
        time.sleep(seconds)
    return {"attempt": ctx.attempt, "fence": ctx.fence, "pid": os.getpid()}


@rl_task(name="tests.poison", max_resurrections=2)
def poison() -> None:
    """Kills its own process every time, like a task that always runs out of memory."""
    count_execution()
    os.kill(os.getpid(), signal.SIGKILL)


@rl_task(name="tests.block_loop", queue="high_priority")
async def block_loop(seconds: float) -> int:
    """An async body that blocks its event loop (a sync call inside `async def`)."""
    count_execution()
    time.sleep(seconds)
    return current_context().attempt


@rl_task(name="tests.nap")
def nap(seconds: float) -> None:
    count_execution()
    time.sleep(seconds)
