"""Admission control inside the dispatch script: exact under concurrency, live, with Retry-After."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from types import ModuleType

import pytest
import redis
from celery import Celery

from relier import AdmissionRejectedError, Relier, TaskHandle
from relier.admission import Admission, clear_limits, live_limits, move_legacy_limits, set_limits
from relier.testing import RedisServer, wait_until
from tests.support import settings_for


def fresh_queue(basic_tasks: ModuleType, **limits: float) -> str:
    queue = f"adm-{uuid.uuid4().hex[:8]}"
    set_limits(basic_tasks.add.relier.store, "queue", queue, **limits)  # type: ignore[arg-type]
    return queue


def try_push(basic_tasks: ModuleType, queue: str) -> TaskHandle | AdmissionRejectedError:
    try:
        return basic_tasks.add.push_with((1, 1), queue=queue)
    except AdmissionRejectedError as exc:
        return exc


def test_ten_thousand_pushes_from_eight_threads_admit_exactly_the_bucket(
    basic_tasks: ModuleType, redis_client: redis.Redis
) -> None:
    queue = fresh_queue(basic_tasks, rate=200, burst=50)
    began = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(lambda _: try_push(basic_tasks, queue), range(10_000)))
    elapsed = time.monotonic() - began
    accepted = [o for o in outcomes if isinstance(o, TaskHandle)]
    rejected = [o for o in outcomes if isinstance(o, AdmissionRejectedError)]
    assert len(accepted) + len(rejected) == 10_000
    assert 50 <= len(accepted) <= 50 + 200 * elapsed + 1
    assert len(accepted) >= 50 + 200 * elapsed * 0.5  # the rate keeps admitting as time passes
    assert redis_client.llen(queue) == len(accepted)
    assert all(0 < exc.retry_after <= 1 / 200 + 0.001 for exc in rejected)
    assert {exc.scope for exc in rejected} == {"queue"}
    redis_client.delete(queue)


async def test_two_hundred_concurrent_apush_against_a_limit_of_one_hundred(
    basic_tasks: ModuleType, redis_client: redis.Redis
) -> None:
    queue = fresh_queue(basic_tasks, rate=0.01, burst=100)

    async def attempt() -> TaskHandle | AdmissionRejectedError:
        try:
            return await basic_tasks.add.apush_with((1, 1), queue=queue)
        except AdmissionRejectedError as exc:
            return exc

    outcomes = await asyncio.gather(*(attempt() for _ in range(200)))
    accepted = [o for o in outcomes if isinstance(o, TaskHandle)]
    rejected = [o for o in outcomes if isinstance(o, AdmissionRejectedError)]
    assert len(accepted) == 100
    assert len(rejected) == 100
    assert all(99 <= exc.retry_after <= 100.01 for exc in rejected)  # one token per 100 s
    redis_client.delete(queue)


def test_retry_after_is_when_the_next_push_is_admitted(basic_tasks: ModuleType) -> None:
    queue = fresh_queue(basic_tasks, rate=2, burst=1)
    assert isinstance(try_push(basic_tasks, queue), TaskHandle)
    rejected = try_push(basic_tasks, queue)
    assert isinstance(rejected, AdmissionRejectedError)
    assert 0.3 < rejected.retry_after <= 0.5
    told = time.monotonic() + rejected.retry_after
    admitted = wait_until(lambda: isinstance(try_push(basic_tasks, queue), TaskHandle),
                          timeout=5, interval=0.01)
    assert admitted
    assert time.monotonic() >= told - 0.05


def test_queue_depth_cap(basic_tasks: ModuleType, redis_client: redis.Redis) -> None:
    queue = fresh_queue(basic_tasks, max_depth=5)
    outcomes = [try_push(basic_tasks, queue) for _ in range(8)]
    assert sum(isinstance(o, TaskHandle) for o in outcomes) == 5
    assert {o.reason for o in outcomes if isinstance(o, AdmissionRejectedError)} == {"max_depth"}
    redis_client.delete(queue)


def test_live_limit_change_takes_effect_on_the_next_push(
    basic_tasks: ModuleType, redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    queue = f"adm-live-{uuid.uuid4().hex[:8]}"
    assert isinstance(try_push(basic_tasks, queue), TaskHandle)
    env = {**os.environ, "RELIER_REDIS_URL": redis_server.url}

    def rl(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "relier.cli", "admission", *args],
                              capture_output=True, text=True, env=env, timeout=60, check=False)

    assert rl("set", queue, "--max-depth", "1").returncode == 0
    assert isinstance(try_push(basic_tasks, queue), AdmissionRejectedError)
    status = rl("status")
    assert queue in status.stdout
    assert rl("clear", queue).returncode == 0
    assert isinstance(try_push(basic_tasks, queue), TaskHandle)
    assert rl("set", queue).returncode == 2
    redis_client.delete(queue)


def test_fastapi_handler_answers_429_with_retry_after(basic_tasks: ModuleType) -> None:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from relier.integrations.fastapi import install_admission_handler

    queue = fresh_queue(basic_tasks, rate=0.5, burst=1)
    api = FastAPI()
    install_admission_handler(api)

    @api.post("/charge")
    def charge() -> dict[str, str]:
        return {"task": basic_tasks.add.push_with((1, 2), queue=queue).id}

    client = TestClient(api)
    assert client.post("/charge").status_code == 200
    refused = client.post("/charge")
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "2"
    assert refused.json()["scope"] == "queue"


@pytest.mark.parametrize("scope", ["task"])
def test_task_scope_limits(scope: str, basic_tasks: ModuleType, redis_client: redis.Redis) -> None:
    set_limits(basic_tasks.nap.relier.store, "task", "tests.nap", max_depth=0, rate=0.01, burst=2)
    queue = f"adm-task-{uuid.uuid4().hex[:8]}"
    try:
        outcomes = []
        for _ in range(4):
            try:
                outcomes.append(basic_tasks.nap.push_with((0,), queue=queue))
            except AdmissionRejectedError as exc:
                outcomes.append(exc)
        assert [isinstance(o, AdmissionRejectedError) for o in outcomes] == [False, False, True, True]
        assert {o.scope for o in outcomes if isinstance(o, AdmissionRejectedError)} == {scope}
    finally:
        clear_limits(basic_tasks.nap.relier.store, "task", "tests.nap")
        redis_client.delete(queue)


def test_overrides_kept_the_old_way_move_into_the_one_hash(
    basic_tasks: ModuleType, redis_client: redis.Redis,
) -> None:
    store = basic_tasks.nap.relier.store
    queue = f"adm-legacy-{uuid.uuid4().hex[:8]}"
    legacy = store.keys.legacy_admission_limits("queue", queue)
    redis_client.hset(legacy, mapping={"rate": "0.5", "burst": "1"})
    try:
        assert move_legacy_limits(store) == 1
        assert not redis_client.exists(legacy)
        moved = [item for item in live_limits(store) if item.name == queue]
        assert [(item.scope, item.rate, item.burst) for item in moved] == [("queue", 0.5, 1)]
        basic_tasks.nap.push_with((0,), queue=queue)
        with pytest.raises(AdmissionRejectedError):  # the moved override is what pushes read
            basic_tasks.nap.push_with((0,), queue=queue)
    finally:
        clear_limits(store, "queue", queue)
        redis_client.delete(queue)


def test_declared_limits_hold_without_any_live_override(redis_server: RedisServer) -> None:
    """Limits declared in code reach the dispatch script, which checks admission only when a
    limit is declared or set live: each kind of declared limit still refuses on its own."""
    suffix = uuid.uuid4().hex[:8]
    deep, paced = f"declared-deep-{suffix}", f"declared-paced-{suffix}"
    app = Celery(f"declared-{suffix}", broker=redis_server.url, set_as_current=False)
    relier = Relier(app, settings=settings_for(redis_server.url),
                    admission={deep: Admission(max_depth=2), paced: Admission(rate=0.01, burst=2)})

    @relier.task(name=f"declared.free.{suffix}")
    def free() -> None: ...

    @relier.task(name=f"declared.task-paced.{suffix}", admission=Admission(rate=0.01, burst=3))
    def task_paced() -> None: ...

    def outcomes(push: Callable[[], object], count: int) -> list[str]:
        found = []
        for _ in range(count):
            try:
                push()
                found.append("ok")
            except AdmissionRejectedError as exc:
                found.append(exc.reason)
        return found

    assert outcomes(lambda: free.push_with((), queue=deep), 4) == ["ok", "ok", "max_depth", "max_depth"]
    assert outcomes(lambda: free.push_with((), queue=paced), 3) == ["ok", "ok", "rate"]
    assert outcomes(lambda: task_paced.push_with((), queue=f"free-{suffix}"), 4) == [
        "ok", "ok", "ok", "rate"]
    assert outcomes(lambda: free.push_with((), queue=f"free-{suffix}"), 5) == ["ok"] * 5
