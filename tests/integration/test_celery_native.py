"""A relier task is still a Celery task: results, options, retry, routing, eager mode, apps.

Real workers on a real Redis; every behaviour is Celery's, with relier's record behind it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
import redis
from celery import Celery, signals, states
from celery.exceptions import TaskRevokedError, TimeLimitExceeded
from celery.result import AsyncResult

from relier import Relier, TaskFailedError, current_context
from relier.errors import UnsupportedCanvasError
from relier.packing import element, element_text
from relier.testing import CeleryWorker, RedisServer, stop_process, wait_until
from tests.conftest import APPS_DIR
from tests.support import KEYS, executions, settings_for, start_resurrector


@pytest.fixture(scope="module")
def resurrector(redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """countdown, eta and retries wait in the delayed set: the resurrector pushes them."""
    process = start_resurrector(redis_server.url, tmp_path_factory.mktemp("native") / "r.log")
    yield
    stop_process(process)


def _state(redis_client: redis.Redis, task_id: str) -> str:
    return (redis_client.hget(KEYS.record(task_id), "state") or b"").decode()


def test_async_result_reads_the_relier_record(
    basic_tasks: ModuleType, default_worker: CeleryWorker,
) -> None:
    handle = basic_tasks.add.push(2, 40)
    result = AsyncResult(handle.id, app=basic_tasks.add.app)  # Celery's own, by id alone
    assert result.get(timeout=30) == 42
    assert result.state == states.SUCCESS
    assert result.ready()
    assert result.successful()
    assert result.date_done is not None


def test_a_failed_task_raises_its_own_exception_with_the_traceback(
    basic_tasks: ModuleType, default_worker: CeleryWorker,
) -> None:
    result = basic_tasks.explode.delay("boom")
    with pytest.raises(ValueError, match="boom"):
        result.get(timeout=30)
    assert result.state == states.FAILURE
    assert "ValueError: boom" in (result.traceback or "")
    assert isinstance(result.result, ValueError)
    assert isinstance(result.get(timeout=1, propagate=False), ValueError)


def test_states_follow_the_record(
    basic_tasks: ModuleType, redis_client: redis.Redis, redis_server: RedisServer,
) -> None:
    result = basic_tasks.add.apply_async((1, 1), queue="native-states")  # nobody consumes it
    assert result.state == states.PENDING
    assert _state(redis_client, result.id) == "queued"
    with pytest.raises(Exception, match="timed out"):
        result.get(timeout=0.2)


def test_countdown_waits_in_the_delayed_set(
    basic_tasks: ModuleType, default_worker: CeleryWorker, redis_client: redis.Redis,
    resurrector: None,
) -> None:
    began = time.monotonic()
    result = basic_tasks.add.apply_async((3, 4), countdown=1.5)
    assert _state(redis_client, result.id) == "scheduled"
    assert result.state == states.PENDING
    assert result.get(timeout=30) == 7
    assert time.monotonic() - began >= 1.5
    assert executions(redis_client, result.id) == 1


def test_an_expired_task_is_revoked_not_run(
    basic_tasks: ModuleType, default_worker: CeleryWorker, redis_client: redis.Redis,
    resurrector: None,
) -> None:
    result = basic_tasks.add.apply_async((1, 2), countdown=1.0, expires=0.5)
    with pytest.raises(TaskRevokedError, match="expired"):
        result.get(timeout=30)
    assert result.state == states.REVOKED
    assert _state(redis_client, result.id) == "cancelled"
    assert executions(redis_client, result.id) == 0


def test_a_call_time_limit_replaces_the_tasks(
    basic_tasks: ModuleType, default_worker: CeleryWorker,
) -> None:
    result = basic_tasks.nap.apply_async((30,), time_limit=1.0)
    with pytest.raises(TimeLimitExceeded):
        result.get(timeout=30)
    assert result.state == states.FAILURE


def test_self_retry_is_a_relier_retry_with_celerys_count(
    basic_tasks: ModuleType, default_worker: CeleryWorker, redis_client: redis.Redis,
    resurrector: None,
) -> None:
    result = basic_tasks.bound_retry.delay(2)
    assert result.get(timeout=30) == 2
    assert executions(redis_client, result.id) == 3
    history = [entry["event"] for entry in basic_tasks.add.relier.store.history(result.id)]
    assert history.count("failed") == 2


def test_self_retry_past_max_retries_raises_the_exception(
    basic_tasks: ModuleType, default_worker: CeleryWorker, redis_client: redis.Redis,
    resurrector: None,
) -> None:
    result = basic_tasks.retry_exhausted.delay()
    with pytest.raises(ValueError, match="still failing"):
        result.get(timeout=30)
    assert executions(redis_client, result.id) == 2  # the first run and one retry


def test_headers_reach_self_request(basic_tasks: ModuleType, default_worker: CeleryWorker) -> None:
    result = basic_tasks.request_info.apply_async(headers={"tenant": "acme"})
    info = result.get(timeout=30)
    assert info == {"tenant": "acme", "retries": 0, "id": result.id, "context": result.id}


@pytest.mark.parametrize(("options", "message"), [
    ({"link": "x"}, "signature"), ({"shadow": "other"}, "registered name"),
    ({"serializer": "json"}, "signed msgpack"), ({"exchange": "fanout-ex"}, "straight to a queue"),
    ({"headers": {"id": "x"}}, "protocol owns"), ({"no_such_option": 1}, "unknown"),
    ({"countdown": 1, "eta": 2}, "not both"),
])
def test_options_that_cannot_apply_are_refused_at_the_call(
    basic_tasks: ModuleType, options: dict[str, object], message: str,
) -> None:
    with pytest.raises(UnsupportedCanvasError, match=message):
        basic_tasks.add.apply_async((1, 1), **options)


def test_routing_follows_celery(redis_server: RedisServer, redis_client: redis.Redis) -> None:
    app = Celery("routed", broker=redis_server.url, set_as_current=False)
    app.conf.task_default_queue = "routed-default"
    app.conf.task_routes = {"routed.by_route": {"queue": "routed-by-route"}}
    relier = Relier(app, settings=settings_for(redis_server.url))

    @relier.task(name="routed.by_route")
    def by_route() -> None: ...

    @relier.task(name="routed.declared", queue="routed-declared")
    def declared() -> None: ...

    @relier.task(name="routed.default")
    def default() -> None: ...

    def queue_of(result: AsyncResult) -> str:
        return (redis_client.hget(KEYS.record(result.id), "queue") or b"").decode()

    assert queue_of(by_route.delay()) == "routed-by-route"
    assert queue_of(declared.delay()) == "routed-declared"
    assert queue_of(default.delay()) == "routed-default"
    assert queue_of(default.apply_async(queue="routed-call")) == "routed-call"


def test_eager_mode_runs_inline_with_a_context() -> None:
    app = Celery("eager", set_as_current=False)
    app.conf.task_always_eager = True
    relier = Relier(app, settings=settings_for("redis://127.0.0.1:1/0"))  # no Redis is touched

    @relier.task(name="eager.double")
    def double(value: int) -> dict[str, object]:
        ctx = current_context()
        return {"value": value * 2, "attempt": ctx.attempt, "worker": ctx.worker}

    @relier.task(name="eager.fail")
    def fail() -> None:
        raise KeyError("eager")

    assert double.delay(21).get() == {"value": 42, "attempt": 1, "worker": "eager"}
    assert double.push(2).result() == {"value": 4, "attempt": 1, "worker": "eager"}
    with pytest.raises(KeyError):
        fail.delay().get()
    with pytest.raises(TaskFailedError, match="eager"):
        fail.push().result()


def test_importing_tasks_never_changes_current_app(redis_server: RedisServer) -> None:
    code = ("import celery; mine = celery.Celery('mine'); import basic_tasks; "
            "assert celery.current_app.main == 'mine', celery.current_app.main; "
            "assert basic_tasks.add.app.main == 'relier'")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, check=False,
                            env={**os.environ, "PYTHONPATH": os.pathsep.join(
                                [str(APPS_DIR), *sys.path])})
    assert result.returncode == 0, result.stderr


def test_plain_tasks_keep_the_apps_own_backend(redis_server: RedisServer) -> None:
    app = Celery("plain", broker=redis_server.url, backend=redis_server.url, set_as_current=False)
    Relier(app, settings=settings_for(redis_server.url))
    assert type(app.backend).__name__ == "RelierRedisBackend"
    assert AsyncResult("no-such-task", app=app).state == states.PENDING  # answered by Redis's


def test_celerys_publish_signals_are_sent_for_relier_tasks(
    basic_tasks: ModuleType, default_worker: CeleryWorker,
) -> None:
    from celery.signals import after_task_publish, before_task_publish

    seen: list[tuple[str, str, str]] = []

    def before(sender: str, headers: dict[str, object], body: tuple[object, ...],
               **_: object) -> None:
        seen.append(("before", sender, str(headers["id"])))
        assert body[0] == [5, 6]

    def after(sender: str, headers: dict[str, object], **_: object) -> None:
        seen.append(("after", sender, str(headers["id"])))

    before_task_publish.connect(before, weak=False)
    after_task_publish.connect(after, weak=False)
    try:
        result = basic_tasks.add.delay(5, 6)
    finally:
        before_task_publish.disconnect(before)
        after_task_publish.disconnect(after)
    assert seen == [("before", "tests.add", result.id), ("after", "tests.add", result.id)]
    assert result.get(timeout=30) == 11


def test_inspect_active_lists_a_running_relier_task(
    basic_tasks: ModuleType, default_worker: CeleryWorker, redis_client: redis.Redis,
) -> None:
    handle = basic_tasks.hold.push(30)
    app = basic_tasks.add.app
    try:
        def listed() -> list[dict[str, object]] | None:
            replies = app.control.inspect(timeout=2.0).active() or {}
            running = [task for tasks in replies.values() for task in tasks
                       if task["id"] == handle.id]
            return running or None

        running = wait_until(listed, timeout=30, message="the running task in inspect().active()")
        assert running[0]["name"] == "tests.hold"
        assert running[0]["args"] == "(30,)"
    finally:
        app.control.revoke(handle.id, terminate=True)


def test_a_returned_async_result_is_stored_as_its_ids(
    basic_tasks: ModuleType, default_worker: CeleryWorker,
) -> None:
    stored = basic_tasks.start_add.delay(2, 3).get(timeout=30)
    started = AsyncResult(stored[0][0], app=basic_tasks.add.app)  # Celery's as_tuple()
    assert started.get(timeout=30) == 5


def test_a_delayed_call_shows_its_eta_on_self_request(
    basic_tasks: ModuleType, default_worker: CeleryWorker, resurrector: None,
) -> None:
    eta = basic_tasks.request_eta.apply_async(countdown=0.2).get(timeout=30)
    assert eta is not None
    assert eta.startswith("20")
    assert basic_tasks.request_eta.delay().get(timeout=30) is None


def test_arguments_the_body_cannot_take_raise_at_the_call(basic_tasks: ModuleType) -> None:
    published: list[str] = []

    def on_publish(headers: dict[str, Any] | None = None, **_: Any) -> None:
        published.append(str((headers or {}).get("id")))

    # Celery's own signal, sent by this process for each push it makes (workers still running
    # other tests' chains push in theirs, so the server's keys would prove nothing)
    signals.before_task_publish.connect(on_publish, weak=False)
    try:
        with pytest.raises(TypeError):
            basic_tasks.add.delay(1, 2, 3)
        with pytest.raises(TypeError):
            basic_tasks.add.push(1)
        with pytest.raises(TypeError):
            basic_tasks.greet.apply_async(kwargs={"name": "x"})
        assert published == []  # nothing was pushed
        handle = basic_tasks.add.push_with((1, 2), queue="arity-check")
        assert published == [handle.id]  # the signal does see a push that is made
    finally:
        signals.before_task_publish.disconnect(on_publish)


def test_send_task_by_name_runs_a_relier_task_as_one(
    basic_tasks: ModuleType, default_worker: CeleryWorker, redis_client: redis.Redis,
) -> None:
    app = basic_tasks.add.app
    result = app.send_task("tests.add", (2, 3), countdown=None, priority=3)
    assert result.get(timeout=30) == 5
    assert executions(redis_client, result.id) == 1


def test_argsrepr_keeps_the_arguments_out_of_the_logs(
    basic_tasks: ModuleType, default_worker: CeleryWorker, redis_client: redis.Redis,
) -> None:
    result = basic_tasks.add.apply_async((40, 2), argsrepr="(<card>, <cvc>)", kwargsrepr="{}")
    assert result.get(timeout=30) == 42
    packed = redis_client.hget(KEYS.record(result.id), "packed") or b""
    assert '"argsrepr": "(<card>, <cvc>)"' in element_text(element(packed, "0")).decode()
    line = next(line for line in default_worker.log().splitlines() if result.id in line)
    assert "(40, 2)" not in default_worker.log()
    assert result.id in line
