"""Celery's own pytest fixtures run relier tasks, as a user's test file would use them.

``celery_app`` is bound with ``Relier(celery_app)`` before ``celery_worker`` starts (the
override below, as docs/recipes.md shows); tasks declared in a test reach the embedded worker
after ``celery_worker.reload()``, as Celery's docs say.
"""

from __future__ import annotations

from typing import Any

import pytest
from celery import Celery, chain

from relier import Relier, current_context
from relier.testing import RedisServer
from tests.support import settings_for


@pytest.fixture(scope="session")
def celery_config(redis_server: RedisServer) -> dict[str, Any]:
    return {"broker_url": redis_server.url, "task_default_queue": "fixtures"}


@pytest.fixture
def celery_app(celery_app: Celery, redis_server: RedisServer) -> Celery:
    Relier(celery_app, settings=settings_for(redis_server.url))
    return celery_app


def test_celery_worker_runs_relier_tasks(celery_app: Celery, celery_worker: Any) -> None:
    relier = Relier.of(celery_app)

    @relier.task(name="fixtures.add")
    def add(a: int, b: int) -> int:
        return a + b

    @relier.task(name="fixtures.whoami")
    def whoami() -> dict[str, Any]:
        ctx = current_context()
        return {"attempt": ctx.attempt, "fence": ctx.fence}

    @relier.task(name="fixtures.refuse")
    def refuse(amount: int) -> None:
        raise ValueError(f"declined {amount}")

    celery_worker.reload()
    assert add.delay(2, 3).get(timeout=30) == 5
    assert whoami.delay().get(timeout=30) == {"attempt": 1, "fence": 1}
    assert chain(add.s(1, 1), add.s(10)).apply_async().get(timeout=30) == 12
    with pytest.raises(ValueError, match="declined 7"):
        refuse.delay(7).get(timeout=30)
