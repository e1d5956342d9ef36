"""Every module in examples/ runs as the docs show it: real Redis, real Celery workers.

One worker of `relier.tasks.app` serves the task examples, two workers of the example's own
Celery app (`billing_app`) serve one queue each, and a worker with short drain settings is
stopped mid-task to show a checkpoint surviving a handoff.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import redis

from relier import TaskHandle, TaskState
from relier.envelope import decode_value
from relier.testing import CeleryWorker, RedisServer, stop_process, wait_until
from tests.conftest import start_worker
from tests.support import KEYS, start_resurrector

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
sys.path.insert(0, str(EXAMPLES))

#: Short drain and hook bounds, so a warm shutdown hands a running task off within a second.
QUICK_HANDOFF = {"RELIER_DRAIN_TIMEOUT": "0.5", "RELIER_HANDOFF_HOOK_TIMEOUT": "0.5"}
HANDOFF_QUEUE = "imports-handoff"


@dataclass
class Workers:
    tasks: CeleryWorker  # relier.tasks.app: quickstart, web, idempotency, fences, checkpoints
    billing: CeleryWorker  # billing_app, queue billing
    reports: CeleryWorker  # billing_app, queue reports
    handoff: CeleryWorker  # relier.tasks.app, HANDOFF_QUEUE, stopped by the handoff test
    env: dict[str, str]


@pytest.fixture(scope="module")
def example_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The SQLite file the examples use as "your own storage" (EXAMPLE_DB)."""
    path = tmp_path_factory.mktemp("example-db") / "example.sqlite3"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EXAMPLE_DB", str(path))
        yield path


@pytest.fixture(scope="module")
def workers(
    redis_server: RedisServer, example_db: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Workers]:
    env = {"PYTHONPATH": str(EXAMPLES), "EXAMPLE_DB": str(example_db)}
    logs = tmp_path_factory.mktemp("example-workers")
    started = Workers(
        tasks=start_worker(
            redis_server, logs / "tasks", queues=("high_priority", "default", "emails", "imports"),
            include=("quickstart_tasks", "web_tasks", "idempotency", "fenced_writes", "checkpoints",
                     "versioned_task"),
            env=env,
        ),
        billing=start_worker(redis_server, logs / "billing", "billing_app", queues=("billing",),
                             include=(), concurrency=1, env=env),
        reports=start_worker(redis_server, logs / "reports", "billing_app", queues=("reports",),
                             include=(), concurrency=1, env=env),
        handoff=start_worker(redis_server, logs / "handoff", queues=(HANDOFF_QUEUE,),
                             include=("checkpoints",), concurrency=1, env={**env, **QUICK_HANDOFF}),
        env=env,
    )
    everyone = (started.tasks, started.billing, started.reports, started.handoff)
    try:
        for worker in everyone:
            worker.wait_ready()
        yield started
    finally:
        with ThreadPoolExecutor(max_workers=len(everyone)) as pool:
            list(pool.map(CeleryWorker.stop, everyone))


@pytest.fixture(scope="module")
def resurrector(redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """`rl run-resurrector`, as the quickstart runs it: retries wait for it to be pushed again."""
    process = start_resurrector(redis_server.url,
                                tmp_path_factory.mktemp("example-resurrector") / "resurrector.log")
    yield
    stop_process(process)


def example(name: str) -> ModuleType:
    """Import an example in this process (after redis_server set RELIER_REDIS_URL)."""
    return importlib.import_module(name)


def rows(db: Path, query: str, *params: object) -> list[tuple[Any, ...]]:
    connection = sqlite3.connect(db, timeout=30)
    try:
        return connection.execute(query, params).fetchall()
    finally:
        connection.close()


def history(client: redis.Redis, task_id: str) -> list[bytes]:
    return client.lrange(KEYS.history(task_id), 0, -1)


# --- quickstart -------------------------------------------------------------------------------


async def test_quickstart_tasks_run_on_a_worker(workers: Workers) -> None:
    tasks = example("quickstart_tasks")
    assert tasks.resize_image.push("uploads/cat.png").result(timeout=30) == "uploads/cat-small.png"
    handle = await tasks.charge_customer.apush("cus_abc", 5000)
    assert await handle.aresult(timeout=30) == {"customer": "cus_abc", "charged": 5000}
    assert handle.state is TaskState.COMPLETED


def test_quickstart_retry_is_pushed_again_by_the_resurrector(
    workers: Workers, resurrector: None, redis_client: redis.Redis
) -> None:
    handle = example("quickstart_tasks").fetch_rates.push("EUR")
    assert handle.result(timeout=30) == {"currency": "EUR", "rate": 1.08, "attempt": 2}
    assert int(redis_client.hget(KEYS.record(handle.id), "failures") or 0) == 1


# --- your own Celery app and dedicated workers --------------------------------------------------


def test_own_app_runs_each_queue_on_its_own_worker(workers: Workers) -> None:
    billing = example("billing_app")
    charged = billing.charge.push("cus_1", 990).result(timeout=30)
    assert charged["charged"] == 990
    assert charged["worker"].startswith(f"{workers.billing.hostname}/")
    urgent = billing.statement_now("cus_1", "2026-10").result(timeout=30)
    assert urgent["worker"].startswith(f"{workers.reports.hostname}/")
    batch = billing.statements_for_batch([f"cus_{n}" for n in range(60)], "2026-10")  # burst 50
    results = [handle.result(timeout=60) for handle in batch]
    assert [result["customer"] for result in results] == [f"cus_{n}" for n in range(60)]
    assert {result["worker"].split("/")[0] for result in results} == {workers.reports.hostname}


# --- web frameworks: 429 with Retry-After -------------------------------------------------------


def post_until_refused(post: Callable[[], Any], status: Callable[[Any], int]) -> tuple[list[Any], Any]:
    """POST until admission refuses one (send_welcome_email allows bursts of 10)."""
    accepted = []
    for _ in range(100):
        response = post()
        if status(response) == 429:
            return accepted, response
        assert status(response) == 202
        accepted.append(response)
    raise AssertionError("100 pushes in a row were admitted past a limit of 5/s, burst 10")


def assert_completed(task_id: str) -> None:
    relier = example("web_tasks").send_welcome_email.relier
    result = TaskHandle(task_id, relier).result(timeout=30)
    assert result["status"] == "sent"


def test_fastapi_recipe(workers: Workers) -> None:
    from fastapi.testclient import TestClient

    app = example("fastapi_app")
    with TestClient(app.api) as client:
        def post() -> Any:
            return client.post("/signups", json={"address": "ada@example.com"})

        accepted, refused = post_until_refused(post, lambda response: response.status_code)
        assert refused.headers["Retry-After"] == "1"  # 5 per second: under a second, rounded up
        assert refused.json()["scope"] == "task"
        again = wait_until(lambda: (r := post()).status_code == 202 and r, timeout=5,
                           message="no push admitted again after Retry-After")
        task_id = again.json()["task_id"]
        status = wait_until(lambda: (r := client.get(f"/tasks/{task_id}")).json()["state"]
                            == "completed" and r.json(), timeout=30)
        assert status["result"] == {"to": "ada@example.com", "status": "sent"}
        assert client.get("/tasks/no-such-task").status_code == 404
    for response in accepted:
        assert_completed(response.json()["task_id"])


def test_flask_recipe(workers: Workers) -> None:
    pytest.importorskip("flask")
    client = example("flask_app").app.test_client()

    def post() -> Any:
        return client.post("/signups", json={"address": "grace@example.com"})

    accepted, refused = post_until_refused(post, lambda response: response.status_code)
    assert refused.headers["Retry-After"] == "1"
    assert refused.get_json()["retry_after"] > 0
    again = wait_until(lambda: (r := post()).status_code == 202 and r, timeout=5)
    for response in [*accepted, again]:
        assert_completed(response.get_json()["task_id"])


def test_django_recipe(workers: Workers) -> None:
    pytest.importorskip("django")
    example("django_app")
    from django.test import Client

    client = Client()

    def post() -> Any:
        return client.post("/signups", {"address": "linus@example.com"},
                           content_type="application/json")

    accepted, refused = post_until_refused(post, lambda response: response.status_code)
    assert refused["Retry-After"] == "1"
    again = wait_until(lambda: (r := post()).status_code == 202 and r, timeout=5)
    for response in [*accepted, again]:
        assert_completed(response.json()["task_id"])


# --- scripts and notebooks ----------------------------------------------------------------------


def test_batch_script_runs_as_a_script(workers: Workers, redis_server: RedisServer) -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "batch_script.py"), "a.png", "shots/b.png"],
        env={**os.environ, **workers.env, "RELIER_REDIS_URL": redis_server.url},
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["a-small.png", "shots/b-small.png"]


async def test_batch_script_from_a_running_event_loop(workers: Workers) -> None:
    batch = example("batch_script")
    assert await batch.resize_all_async(["x.png", "y.jpg"]) == ["x-small.png", "y-small.jpg"]
    assert batch.resize_all(["z.gif"]) == ["z-small.gif"]


# --- cookbook -----------------------------------------------------------------------------------


def test_idempotency_cookbook(workers: Workers, example_db: Path) -> None:
    shop = example("idempotency")
    with ThreadPoolExecutor(max_workers=4) as pool:
        handles = list(pool.map(lambda _: shop.charge_order.push("order-1", 2500), range(8)))
    assert len({handle.id for handle in handles}) == 1
    assert handles[0].result(timeout=30) == "charged 2500 for order-1"
    repeat = shop.charge_order.push("order-1", 2500)
    assert (repeat.id, repeat.existing) == (handles[0].id, True)
    assert rows(example_db, "SELECT order_id, cents FROM charges") == [("order-1", 2500)]

    first = shop.refund_order.push("order-1", "damaged")
    second = shop.refund_order.push("order-1", "arrived late")
    assert second.id == first.id
    assert second.result(timeout=30) == "refunded order-1: damaged"
    assert rows(example_db, "SELECT reason FROM refunds") == [("damaged",)]

    bonus = shop.grant_signup_bonus("user-7")
    assert shop.grant_signup_bonus("user-7") == bonus
    assert rows(example_db, "SELECT id FROM bonuses WHERE user_id = 'user-7'") == [(bonus,)]


def test_fenced_writes_cookbook(workers: Workers, example_db: Path) -> None:
    fenced = example("fenced_writes")
    handle = fenced.publish_report.push("weekly", "v1")
    assert handle.result(timeout=30) == 1  # the first attempt holds fence 1
    # An older attempt of the same task (a paused worker resuming) cannot overwrite it ...
    assert not fenced.save_report("weekly", "stale", task_id=handle.id, fence=0)
    assert rows(example_db, "SELECT body, fence FROM reports") == [("v1", 1)]
    # ... while a newer attempt, or another task, can.
    assert fenced.save_report("weekly", "v2", task_id=handle.id, fence=2)
    other = fenced.publish_report.push("weekly", "v3")
    assert other.result(timeout=30) == 1
    assert rows(example_db, "SELECT body, task_id FROM reports") == [("v3", other.id)]


def wait_for_checkpoint(client: redis.Redis, task_id: str, at_least: int) -> int:
    def saved() -> int | None:
        raw = client.hget(KEYS.record(task_id), "partial")
        return decode_value(raw) if raw and decode_value(raw) >= at_least else None

    return wait_until(saved, timeout=30, message=f"task {task_id} saved no checkpoint >= {at_least}")


def test_checkpoint_survives_a_killed_process(workers: Workers, redis_client: redis.Redis) -> None:
    handle = example("checkpoints").import_rows.push(150)
    saved = wait_for_checkpoint(redis_client, handle.id, 10)
    holder = redis_client.hget(KEYS.record(handle.id), "holder").decode()
    os.kill(int(holder.rsplit("/", 1)[1]), signal.SIGKILL)
    result = handle.result(timeout=30)
    assert result["attempt"] == 2
    assert result["resumed_at"] >= saved
    assert result["imported"] == 150 - result["resumed_at"]


def test_checkpoint_hook_runs_before_a_handoff(
    workers: Workers, redis_server: RedisServer, redis_client: redis.Redis, tmp_path: Path
) -> None:
    handle = example("checkpoints").import_rows.push_with((250,), queue=HANDOFF_QUEUE)
    saved = wait_for_checkpoint(redis_client, handle.id, 10)
    os.kill(workers.handoff.pid, signal.SIGTERM)  # warm shutdown: drain, run the hook, hand off
    replacement = start_worker(redis_server, tmp_path, queues=(HANDOFF_QUEUE,),
                               include=("checkpoints",), concurrency=1, env=workers.env)
    try:
        assert workers.handoff.wait_exit(timeout=30) == 0
        log = workers.handoff.log()
        assert f"task {handle.id} handed off at shutdown" in log  # by the drain or the pool parent
        assert "passed its soft timeout" in log  # the hook ran ...
        assert "on_soft_timeout of task" not in log  # ... and did not raise
        replacement.wait_ready()
        result = handle.result(timeout=30)
    finally:
        replacement.stop()
    assert result["attempt"] == 2
    assert result["resumed_at"] >= saved
    assert [json.loads(entry)["event"] for entry in history(redis_client, handle.id)].count(
        "handoff") == 1


def test_versioned_task_upgrades_messages_of_the_old_signature(
    workers: Workers, redis_server: RedisServer
) -> None:
    greet = example("versioned_task").greet
    assert greet.push(full_name="Grace Hopper").result(timeout=30) == "Hello, Grace Hopper"
    # A producer still on version 1, by name, as `rl push` sends it without the module loaded.
    old = subprocess.run(
        [sys.executable, "-m", "relier.cli", "push", "accounts.greet", "--version", "1",
         "--kwargs", json.dumps({"first": "Ada", "last": "Lovelace", "greeting": "Hi"})],
        env={**os.environ, "RELIER_REDIS_URL": redis_server.url},
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert old.returncode == 0, old.stderr
    assert TaskHandle(old.stdout.strip(), greet.relier).result(timeout=30) == "Hi, Ada Lovelace"


# --- testing your own tasks -------------------------------------------------------------------


def test_testing_fixtures_example_passes_under_pytest() -> None:
    """The example starts its own server and worker, in a pytest run of its own."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest", str(EXAMPLES / "testing_fixtures.py"), "-q",
         "-p", "no:cacheprovider"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "2 passed" in done.stdout
