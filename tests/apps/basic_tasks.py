"""Tasks for the integration suite, declared on the ready app ``relier.tasks.app``.

Every body counts its executions in Redis (``test:exec:<task id>``) so tests see duplicates.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from typing import Any

import redis
from celery import chain, group
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from relier import Arguments, FencedOffError, TaskContext, current_context, rl_task
from relier.tasks import app as tasks_app

_client: redis.Redis | None = None


def client() -> redis.Redis:
    """The bodies' own counting client; it rides out a Redis restart a test causes (the
    counting is the test's instrument, not what is tested)."""
    global _client
    if _client is None:
        _client = redis.Redis.from_url(
            os.environ["RELIER_REDIS_URL"],
            retry=Retry(ExponentialBackoff(cap=0.5, base=0.02), 60),
            retry_on_error=[redis.ConnectionError, redis.TimeoutError])
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


class TwoPartError(Exception):
    """An exception whose constructor takes two arguments (pickling by its args fails)."""

    def __init__(self, code: int, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code


@rl_task(name="tests.explode_oddly")
def explode_oddly(code: int) -> None:
    count_execution()
    raise TwoPartError(code, "declined")


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


def record_pid() -> None:
    ctx = current_context()
    client().set(f"test:pid:{ctx.task_id}:{ctx.attempt}", os.getpid())


@rl_task(name="tests.hang_async", hard_timeout=1.5)
async def hang_async() -> None:
    count_execution()
    record_pid()
    await asyncio.sleep(3600)


@rl_task(name="tests.stuck_sleep", hard_timeout=1.5)
def stuck_sleep() -> None:
    count_execution()
    record_pid()
    time.sleep(3600)


@rl_task(name="tests.busy_loop", hard_timeout=1.5)
def busy_loop() -> None:
    count_execution()
    record_pid()
    while True:
        pass


@rl_task(name="tests.spawner", hard_timeout=1.5)
def spawner() -> None:
    """Starts a grandchild process that would outlive a killed pool process."""
    count_execution()
    child = subprocess.Popen(["sleep", "1000"])
    client().set(f"test:grandchild:{current_context().task_id}", child.pid)
    time.sleep(3600)


def save_progress(ctx: TaskContext) -> None:
    ctx.set_partial({"done": 41, "attempt": ctx.attempt})


@rl_task(name="tests.soft_then_hard", soft_timeout=0.5, hard_timeout=2.5,
         on_soft_timeout=save_progress)
def soft_then_hard() -> None:
    count_execution()
    time.sleep(3600)


@rl_task(name="tests.soft_then_killed", soft_timeout=0.5, hard_timeout=120,
         on_soft_timeout=save_progress)
def soft_then_killed() -> Any:
    count_execution()
    record_pid()
    ctx = current_context()
    if ctx.attempt == 1:
        time.sleep(3600)
    return ctx.partial


async def save_progress_async(ctx: TaskContext) -> None:
    await ctx.aset_partial({"async": True})


@rl_task(name="tests.async_soft_then_hard", soft_timeout=0.5, hard_timeout=2.5,
         on_soft_timeout=save_progress_async)
async def async_soft_then_hard() -> None:
    count_execution()
    await asyncio.sleep(3600)


@rl_task(name="tests.zombie_checkpoint", hard_timeout=1.0)
def zombie_checkpoint() -> str:
    """Outlives its hard timeout in a pool that cannot stop it, then tries to write."""
    count_execution()
    time.sleep(2.5)
    try:
        current_context().set_partial("late")
    except FencedOffError:
        client().set(f"test:fenced:{current_context().task_id}", 1)
    return "late"


@rl_task(name="tests.own_timeout")
def own_timeout() -> None:
    count_execution()
    raise TimeoutError("the card API timed out")


@rl_task(name="tests.charge", idempotent=True)
def charge(customer: str, amount: int) -> dict[str, Any]:
    count_execution()
    time.sleep(0.3)
    return {"customer": customer, "charged": amount}


@rl_task(name="tests.charge_by_order",
         idempotency_key=lambda customer, amount, order: order)
def charge_by_order(customer: str, amount: int, order: str) -> str:
    count_execution()
    return f"{customer}:{amount}"


@rl_task(name="tests.charge_once", idempotent=True)
def charge_once(order: str, amount: int) -> int:
    """Its side effect is keyed at the resource by the call's idempotency key."""
    ctx = current_context()
    count_execution()
    if client().set(f"test:ledger:{ctx.idempotency_key}", amount, nx=True):
        client().incr(f"test:charged:{order}")
    record_pid()
    if ctx.attempt == 1:
        time.sleep(60)
    return amount


@rl_task(name="tests.slow_idem", idempotent=True)
def slow_idem(value: int) -> int:
    count_execution()
    time.sleep(2)
    return value * 10


@rl_task(name="tests.fail_idem", idempotent=True)
def fail_idem(value: int) -> None:
    count_execution()
    raise RuntimeError(f"declined {value}")


@rl_task(name="tests.big_checkpoint")
def big_checkpoint() -> None:
    current_context().set_partial("x" * (2 << 20))


@rl_task(name="tests.flaky", retries=3, retry_backoff=0.1, retry_on=(ConnectionError,))
def flaky(failures: int) -> int:
    """Fails its first `failures` attempts with a retryable error."""
    count_execution()
    attempt = current_context().attempt
    if attempt <= failures:
        raise ConnectionError(f"upstream refused attempt {attempt}")
    return attempt


@rl_task(name="tests.not_retryable", retries=3, retry_backoff=0.1, retry_on=(ConnectionError,))
def not_retryable() -> None:
    count_execution()
    raise ValueError("bad input is not worth retrying")


@rl_task(name="tests.fail_until_fixed")
def fail_until_fixed(key: str) -> str:
    """Fails until the test "deploys a fix" by setting test:fixed:<key>."""
    count_execution()
    if not client().exists(f"test:fixed:{key}"):
        raise RuntimeError(f"bug {key} not fixed yet")
    return f"fixed {key}"


PROGRESS: dict[str, int] = {}


def checkpoint_progress(ctx: TaskContext) -> None:
    ctx.set_partial({"step": PROGRESS.get(ctx.task_id, 0)})


@rl_task(name="tests.long_checkpointed", soft_timeout=3600, on_soft_timeout=checkpoint_progress)
def long_checkpointed(steps: int) -> dict[str, int]:
    """Works through `steps` steps of 50 ms, resuming from the last checkpoint."""
    ctx = current_context()
    count_execution()
    record_pid()
    start = (ctx.partial or {}).get("step", 0)
    for step in range(start, steps):
        PROGRESS[ctx.task_id] = step
        time.sleep(0.05)
    return {"resumed_from": start, "attempt": ctx.attempt}


@rl_task(name="tests.slo_probe", slo=0.99)
def slo_probe(succeed: bool) -> bool:
    if not succeed:
        raise RuntimeError("probe failure")
    return True


@rl_task(name="tests.fails_first")
def fails_first(key: str) -> str:
    """Raises on its first run (a dead letter), succeeds once released."""
    count_execution()
    if client().incr(f"test:fails_first:{key}") == 1:
        raise RuntimeError(f"first run of {key} fails")
    return "second time lucky"


@rl_task(name="tests.note", idempotent=True)
def note(path: str, number: int) -> int:
    """Appends its task id to a file: counts executions without writing to Redis."""
    with open(path, "a", encoding="utf-8") as log:
        log.write(f"{current_context().task_id}\n")
    return number


@rl_task(name="tests.bound_retry", bind=True)
def bound_retry(self: Any, until: int) -> int:
    """Celery's self.retry() until `until` failures are recorded, then returns them."""
    count_execution()
    if self.request.retries < until:
        raise self.retry(countdown=0.1, max_retries=5, exc=RuntimeError("not yet"))
    return int(self.request.retries)


@rl_task(name="tests.retry_exhausted", bind=True)
def retry_exhausted(self: Any) -> None:
    count_execution()
    raise self.retry(countdown=0.05, max_retries=1, exc=ValueError("still failing"))


@rl_task(name="tests.request_info", bind=True)
def request_info(self: Any) -> dict[str, Any]:
    """What Celery's request shows the body: a call's header, the retries, the id."""
    return {"tenant": getattr(self.request, "tenant", None), "retries": self.request.retries,
            "id": self.request.id, "context": current_context().task_id}


@rl_task(name="tests.request_eta", bind=True)
def request_eta(self: Any) -> str | None:
    """Celery's ``self.request.eta`` of a delayed call."""
    eta: str | None = self.request.eta
    return eta


@rl_task(name="tests.start_add")
def start_add(a: int, b: int) -> Any:
    """Returns the `AsyncResult` of a task it starts (Celery stores its ids)."""
    return add.delay(a, b)


@rl_task(name="tests.total")
def total(numbers: list[int]) -> int:
    """A chord body: the sum of its header's results."""
    count_execution()
    return sum(numbers)


@rl_task(name="tests.slow_inc")
def slow_inc(value: int) -> int:
    """A chain step whose first attempt records its pid and waits to be killed."""
    ctx = current_context()
    count_execution()
    client().set(f"test:pid:{ctx.task_id}:{ctx.attempt}", os.getpid())
    if ctx.attempt == 1:
        time.sleep(60)
    return value + 1


@rl_task(name="tests.on_error")
def on_error(failed_id: str) -> str:
    """An errback applied as a task: Celery passes the failed task's id."""
    count_execution()
    client().rpush(f"test:errback:{failed_id}", "task")
    return failed_id


@rl_task(name="tests.on_error_labelled")
def on_error_labelled(failed_id: str, label: str) -> None:
    """An errback with a stored argument: Celery applies it as a task with the failed id."""
    client().rpush(f"test:errback:{failed_id}", f"task {label}")


@rl_task(name="tests.on_error_inline")
def on_error_inline(request: Any, exc: BaseException, traceback: str) -> None:
    """An errback taking (request, exc, traceback): Celery calls it in the failing worker."""
    client().rpush(f"test:errback:{request.id}", f"inline {type(exc).__name__}: {exc}")


@tasks_app.task(name="tests.plain_double")
def plain_double(value: int) -> int:
    """A plain Celery task (no relier) for canvases that mix both."""
    return value * 2


@rl_task(name="tests.replace_with", bind=True)
def replace_with(self: Any, value: int, kind: str = "task") -> Any:
    """Replaces itself (Celery's ``self.replace``) with a task, a chain or a group."""
    count_execution()
    if kind == "chain":
        return self.replace(chain(add.s(value, 1), add.s(10)))
    if kind == "group":
        return self.replace(group(add.s(value, number) for number in range(3)))
    return self.replace(add.s(value, 1))
