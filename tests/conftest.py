"""Shared fixtures: a real Redis-compatible server and real Celery workers."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import redis
from hypothesis import HealthCheck, settings

from relier.config import reset_settings
from relier.testing import CeleryWorker, RedisServer

# Test processes sign with the public development key, which production (the default) refuses.
os.environ.setdefault("RELIER_ENV", "test")
# Until the session's own server is up, a closed port: code that reads the settings too early
# fails loudly instead of reaching a Redis the suite did not start (6379 is never used).
os.environ["RELIER_REDIS_URL"] = "redis://127.0.0.1:1/0"

#: Celery's own fixtures (celery_app, celery_worker), as a user's suite enables them.
pytest_plugins = ("celery.contrib.pytest",)

APPS_DIR = Path(__file__).parent / "apps"
sys.path.insert(0, str(APPS_DIR))

DEFAULT_QUEUES = ("high_priority", "default", "low_priority", "re-queue")

# A loaded 2-core CI machine must not turn slow example generation into failures.
settings.register_profile("relier", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("relier")


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    os.environ["RELIER_REDIS_URL"] = server.url
    reset_settings()
    yield server
    server.stop()


@pytest.fixture
def redis_client(redis_server: RedisServer) -> Iterator[redis.Redis]:
    client = redis_server.client()
    yield client
    client.close()


@pytest.fixture(scope="session")
def basic_tasks(redis_server: RedisServer) -> ModuleType:
    import basic_tasks

    return basic_tasks


@pytest.fixture(scope="session")
def own_app(redis_server: RedisServer) -> ModuleType:
    import own_app

    return own_app


def start_worker(
    redis_server: RedisServer,
    log_dir: Path,
    app: str = "relier.tasks.app",
    *,
    queues: tuple[str, ...] = DEFAULT_QUEUES,
    include: tuple[str, ...] = ("basic_tasks",),
    concurrency: int = 2,
    env: dict[str, str] | None = None,
    pool: str = "prefork",
) -> CeleryWorker:
    worker = CeleryWorker(
        app,
        redis_url=redis_server.url,
        log_path=log_dir / "worker.log",
        queues=queues,
        include=include,
        concurrency=concurrency,
        pool=pool,
        pythonpath=[str(APPS_DIR)],
        env=env,
    )
    return worker.start()


@pytest.fixture(scope="module")
def default_worker(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CeleryWorker]:
    worker = start_worker(redis_server, tmp_path_factory.mktemp("worker")).wait_ready()
    yield worker
    worker.stop()
