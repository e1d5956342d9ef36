"""``Relier(app, all_tasks=True)``: every @app.task and @shared_task of a Celery codebase is a
relier task, with its Celery options mapped; real worker, real Redis."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from types import ModuleType

import pytest
import redis
from celery import chain
from celery._state import get_current_app

from relier import Relier
from relier.errors import ConfigurationError
from relier.task import RelierTask
from relier.testing import RedisServer, stop_process
from tests.conftest import start_worker
from tests.support import KEYS, settings_for, start_resurrector


@pytest.fixture(scope="module")
def everything(redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory,
               ) -> Iterator[ModuleType]:
    previous = get_current_app()
    import all_tasks_app

    previous.set_current()  # the project's app became current_app: not for the other tests
    log_dir = tmp_path_factory.mktemp("everything")
    worker = start_worker(redis_server, log_dir, "all_tasks_app.app", queues=("everything",),
                          include=()).wait_ready()
    resurrector: subprocess.Popen[bytes] = start_resurrector(redis_server.url, log_dir / "r.log")
    yield all_tasks_app
    stop_process(resurrector)
    worker.stop()


def test_every_celery_task_is_a_relier_task(everything: ModuleType, redis_client: redis.Redis) -> None:
    assert isinstance(everything.app.tasks["everything.flaky"], RelierTask)
    result = everything.multiply.delay(6, 7)
    assert result.get(timeout=30) == 42
    assert redis_client.hget(KEYS.record(result.id), "state") == b"completed"
    assert chain(everything.multiply.s(2, 3), everything.multiply.s(10)).apply_async().get(timeout=30) == 60
    who = everything.who.delay()
    assert who.get(timeout=30) == who.id


def test_autoretry_for_retries_as_celery_would(everything: ModuleType) -> None:
    flaky = everything.app.tasks["everything.flaky"]  # a @shared_task, of this app
    assert flaky.delay("k1").get(timeout=30) == 3  # two refusals, then success


def test_a_task_relier_cannot_honour_stays_plain(everything: ModuleType) -> None:
    assert "serializer" in everything.relier.plain_tasks["everything.pickled"]
    assert "soft_timeout" in everything.relier.plain_tasks["everything.limits"]
    assert not isinstance(everything.app.tasks["everything.pickled"], RelierTask)


def test_tasks_declared_before_the_binding_are_refused(redis_server: RedisServer) -> None:
    from celery import Celery

    app = Celery("late", broker=redis_server.url, set_as_current=False)

    @app.task(name="late.early")
    def early() -> None: ...

    app.finalize()
    with pytest.raises(ConfigurationError, match=r"late\.early"):
        Relier(app, settings=settings_for(redis_server.url), all_tasks=True)
