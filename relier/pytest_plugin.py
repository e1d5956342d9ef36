"""pytest fixtures for your own relier tasks, loaded automatically when relier is installed:

- ``relier_server`` (session): a real Redis-compatible server on a free loopback port, AOF on,
  ``noeviction``; ``RELIER_REDIS_URL`` points at it for the rest of the session.
- ``relier_worker`` (function): a factory that starts real ``celery worker`` processes for your
  app and stops them after the test: ``relier_worker("myproj.celery:app", queues=("default",))``.
- ``relier_events``: a `LifecycleEvents` on ``relier.tasks`` for assertions on the event stream.

Import your task modules inside tests or fixtures that use ``relier_server``, so the default
app reads ``RELIER_REDIS_URL`` after it is set.

Celery's own ``celery_app``/``celery_worker`` fixtures work too: return
``{"broker_url": relier_server.url}`` from ``celery_config`` and override ``celery_app`` to call
``Relier(celery_app)`` before the worker starts (docs/recipes.md, "Tests").
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from relier.config import reset_settings
from relier.testing import CeleryWorker, LifecycleEvents, RedisServer


@pytest.fixture(scope="session")
def relier_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("relier-redis")).start()
    overrides = {"RELIER_REDIS_URL": server.url}
    if "RELIER_ENV" not in os.environ and "RELIER_SECRET_KEYS" not in os.environ:
        overrides["RELIER_ENV"] = "test"  # the development key, on a throwaway server only
    previous = {name: os.environ.get(name) for name in overrides}
    os.environ.update(overrides)
    reset_settings()
    yield server
    server.stop()
    for name, value in previous.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    reset_settings()


@pytest.fixture
def relier_worker(relier_server: RedisServer, tmp_path: Path) -> Iterator[Callable[..., CeleryWorker]]:
    started: list[CeleryWorker] = []

    def start(app: str = "relier.tasks.app", **options: Any) -> CeleryWorker:
        options.setdefault("log_path", tmp_path / f"worker{len(started)}.log")
        worker = CeleryWorker(app, redis_url=relier_server.url, **options).start()
        started.append(worker)
        return worker.wait_ready()

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
def relier_events(relier_server: RedisServer) -> LifecycleEvents:
    from relier.tasks import relier  # noqa: PLC0415 - after RELIER_REDIS_URL points at the test server

    return LifecycleEvents(relier)
