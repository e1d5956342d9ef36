"""push/apush through real workers, with results read from relier's own record."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import decimal
import uuid
import zoneinfo
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType

import redis
from celery.result import AsyncResult

from relier import TaskHandle, TaskState
from relier.dispatch import prepare_dispatch, push
from relier.testing import CeleryWorker, RedisServer
from tests.conftest import start_worker
from tests.support import executions


def test_sync_task_round_trip(
    basic_tasks: ModuleType, default_worker: CeleryWorker, redis_client: redis.Redis
) -> None:
    handle = basic_tasks.add.push(2, 3)
    assert handle.result(timeout=30) == 5
    assert handle.state is TaskState.COMPLETED
    assert executions(redis_client, handle.id) == 1


def test_a_handle_from_a_stored_id_reads_the_same_task(
    basic_tasks: ModuleType, default_worker: CeleryWorker
) -> None:
    from relier.tasks import relier

    pushed = basic_tasks.add.push(20, 22)
    later = relier.handle(pushed.id)  # e.g. in another request, from an id kept in a database
    assert later.result(timeout=30) == 42
    assert later.state is TaskState.COMPLETED


async def test_async_task_round_trip(
    basic_tasks: ModuleType, default_worker: CeleryWorker, redis_client: redis.Redis
) -> None:
    handle = await basic_tasks.echo_async.apush({"k": [1, 2]})
    result = await handle.aresult(timeout=30)
    assert result["echo"] == {"k": [1, 2]}
    assert result["attempt"] == 1
    assert result["fence"] == 1
    assert await handle.astate() is TaskState.COMPLETED
    assert executions(redis_client, handle.id) == 1


async def test_dates_decimals_uuids_and_bytes_arrive_as_sent(
    basic_tasks: ModuleType, default_worker: CeleryWorker
) -> None:
    sent = {"when": datetime.datetime(2026, 12, 3, 9, 30, tzinfo=zoneinfo.ZoneInfo("Europe/Berlin")),
            "day": datetime.date(2026, 12, 3), "at": datetime.time(9, 30),
            "amount": decimal.Decimal("19.90"), "ref": uuid.uuid4(), "blob": b"\x00\x01"}
    handle = await basic_tasks.echo_async.apush(sent)
    echoed = (await handle.aresult(timeout=30))["echo"]
    assert echoed == sent
    assert {key: type(value) for key, value in echoed.items()} == {
        key: type(value) for key, value in sent.items()}


def test_own_app_with_custom_queues(
    own_app: ModuleType, redis_server: RedisServer, tmp_path: Path
) -> None:
    worker = start_worker(
        redis_server, tmp_path, "own_app.app", queues=("billing", "mail"), include=()
    ).wait_ready()
    try:
        charge = own_app.charge.push("cus_abc", 5000)
        invoice = own_app.send_invoice.push("cus_abc")
        assert charge.result(timeout=30) == {"customer": "cus_abc", "charged": 5000, "fence": 1}
        assert invoice.result(timeout=30) == "invoice sent to cus_abc"
    finally:
        worker.stop()


def test_delay_and_apply_async_return_celery_results(
    basic_tasks: ModuleType, default_worker: CeleryWorker, redis_client: redis.Redis
) -> None:
    result = basic_tasks.add.delay(1, 1)
    assert isinstance(result, AsyncResult)
    assert result.get(timeout=30) == 2
    assert result.state == "SUCCESS"
    again = basic_tasks.add.apply_async((4, 5), task_id="fixed-id-apply-async")
    assert again.id == "fixed-id-apply-async"
    assert again.get(timeout=30) == 9
    repeated = basic_tasks.add.apply_async((4, 5), task_id="fixed-id-apply-async")
    assert repeated.get(timeout=30) == 9
    assert executions(redis_client, again.id) == 1  # the same id pushed nothing new


def test_eight_threads_push_concurrently(
    basic_tasks: ModuleType, default_worker: CeleryWorker, redis_client: redis.Redis
) -> None:
    per_thread = 50

    def push_many(offset: int) -> list[TaskHandle]:
        return [basic_tasks.add.push(offset, i) for i in range(per_thread)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        batches = list(pool.map(push_many, range(8)))
    handles = [handle for batch in batches for handle in batch]
    assert len({handle.id for handle in handles}) == 8 * per_thread
    for offset, batch in enumerate(batches):
        assert [handle.result(timeout=60) for handle in batch] == [
            offset + i for i in range(per_thread)
        ]
    assert all(executions(redis_client, handle.id) == 1 for handle in handles)


async def test_thousand_apush_from_one_loop(
    basic_tasks: ModuleType, default_worker: CeleryWorker, redis_client: redis.Redis
) -> None:
    handles = await asyncio.gather(*(basic_tasks.echo_async.apush(i) for i in range(1000)))
    assert len({handle.id for handle in handles}) == 1000
    results = await asyncio.gather(*(handle.aresult(timeout=120) for handle in handles))
    assert [result["echo"] for result in results] == list(range(1000))
    pipe = redis_client.pipeline()
    for handle in handles:
        pipe.get(f"test:exec:{handle.id}")
    assert pipe.execute() == [b"1"] * 1000


def test_version_one_message_is_migrated(
    basic_tasks: ModuleType, default_worker: CeleryWorker
) -> None:
    old_spec = dataclasses.replace(basic_tasks.greet.spec, version=1)
    relier = basic_tasks.greet.relier
    prepared = prepare_dispatch(relier.runtime, old_spec, (), {"first": "Ada", "last": "Lovelace"})
    handle = push(relier.runtime, prepared)
    assert handle.result(timeout=30) == "hello Ada Lovelace"
