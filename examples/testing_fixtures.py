"""Test your own tasks against a real Redis and a real Celery worker, with relier.testing.

    pytest testing_fixtures.py

Copy the fixtures into your conftest.py and list your own task modules in `include`.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from relier.testing import CeleryWorker, RedisServer

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A throwaway server with AOF on: redis-server from PATH, else the bundled Valkey."""
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    os.environ["RELIER_REDIS_URL"] = server.url
    yield server.url
    server.stop()


@pytest.fixture(scope="session")
def tasks(redis_url: str) -> ModuleType:
    """Your task module, imported once RELIER_REDIS_URL names the test server: the ready app
    reads its settings when it is first imported."""
    return importlib.import_module("quickstart_tasks")


@pytest.fixture(scope="session")
def worker(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CeleryWorker]:
    worker = CeleryWorker(
        "relier.tasks.app",
        redis_url=redis_url,
        log_path=tmp_path_factory.mktemp("worker") / "worker.log",
        queues=["high_priority", "default"],
        include=["quickstart_tasks"],
        pythonpath=[HERE],
    )
    worker.start().wait_ready()
    yield worker
    worker.stop()


def test_resize_image_runs_on_a_real_worker(tasks: ModuleType, worker: CeleryWorker) -> None:
    handle = tasks.resize_image.push("uploads/cat.png")
    assert handle.result(timeout=30) == "uploads/cat-small.png"


def test_async_task_pushed_from_sync_code(tasks: ModuleType, worker: CeleryWorker) -> None:
    handle = tasks.charge_customer.push("cus_42", 1250)
    assert handle.result(timeout=30) == {"customer": "cus_42", "charged": 1250}
