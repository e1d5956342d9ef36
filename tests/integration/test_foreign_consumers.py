"""A Celery worker without relier on a relier queue is named within seconds by the
resurrector (``rl:foreign``), `rl doctor`, and a warning at push; real workers on a real Redis."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import redis

from relier.cli.doctor import check_consumers
from relier.consumers import find_foreign, published
from relier.preflight import Severity
from relier.testing import CeleryWorker, RedisServer, stop_process, wait_until
from tests.conftest import start_worker
from tests.support import KEYS, start_resurrector

QUEUE = "foreign-q"


@pytest.fixture
def stock_worker(redis_server: RedisServer, tmp_path: Path) -> Iterator[CeleryWorker]:
    worker = start_worker(redis_server, tmp_path / "stock", "stock_app.app", queues=(QUEUE,),
                          include=()).wait_ready()
    yield worker
    worker.stop()


def test_a_stock_worker_on_a_relier_queue_is_named(
    basic_tasks: ModuleType, stock_worker: CeleryWorker, redis_server: RedisServer,
    redis_client: redis.Redis, tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    relier_worker = start_worker(redis_server, tmp_path / "relier", queues=(QUEUE,)).wait_ready()
    redis_client.delete(f"{KEYS.foreign_consumers}:lock")  # this resurrector checks first
    resurrector = start_resurrector(redis_server.url, tmp_path / "resurrector.log")
    try:
        store = basic_tasks.add.runtime.store
        found = wait_until(lambda: published(store), timeout=45,
                           message="the relier workers never named the stock worker")
        assert found == {stock_worker.hostname: [QUEUE]}
        check = check_consumers(basic_tasks.add.app)
        assert check.severity is Severity.WARNING
        assert stock_worker.hostname in check.detail
        basic_tasks.add.runtime.foreign.refresh()
        with caplog.at_level(logging.WARNING, logger="relier"):
            basic_tasks.add.push_with((1, 1), queue=QUEUE)
        assert any(stock_worker.hostname in record.getMessage() for record in caplog.records)
    finally:
        stop_process(resurrector)
        relier_worker.stop()


def test_only_workers_outside_relier_that_share_a_relier_queue_are_foreign() -> None:
    answers = {"relier@a": [{"name": "default"}], "stock@b": [{"name": "default"}, {"name": "x"}],
               "stock@c": [{"name": "other"}]}
    assert find_foreign(answers, ["relier@a"], ["default"]) == {"stock@b": ["default"]}
