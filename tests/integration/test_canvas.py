"""Celery's canvas with relier tasks as steps: chain, group, chord, link, link_error.

Each continuation is created by the transition that ends the step before it, so a step killed
mid-run re-runs once and the chain goes on exactly once; executions are counted in Redis.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import redis
from celery import chain, chord, group
from celery.exceptions import ChordError
from celery.result import AsyncResult

from relier import UnsupportedCanvasError
from relier.canvas import join_id
from relier.testing import FAST_LEASES, CeleryWorker, RedisServer, wait_until
from tests.conftest import start_worker
from tests.support import KEYS, executions, running_pid


@pytest.fixture
def fast_worker(redis_server: RedisServer, tmp_path: Path) -> Iterator[CeleryWorker]:
    worker = start_worker(redis_server, tmp_path / "a", env=FAST_LEASES).wait_ready()
    yield worker
    worker.kill()


def _state(redis_client: redis.Redis, task_id: str) -> str:
    return (redis_client.hget(KEYS.record(task_id), "state") or b"").decode()


def test_a_chain_passes_each_result_on_once(
    basic_tasks: ModuleType, default_worker: CeleryWorker, redis_client: redis.Redis,
) -> None:
    add = basic_tasks.add
    result = chain(add.s(1, 2), add.s(3), add.s(4)).apply_async()
    assert result.get(timeout=30) == 10
    steps = [result.parent.parent, result.parent, result]
    assert [executions(redis_client, step.id) for step in steps] == [1, 1, 1]
    assert result.parent.parent.get(timeout=1) == 3
    assert redis_client.hget(KEYS.record(result.id), "queue") == b"default"


def test_a_group_collects_results_in_order(
    basic_tasks: ModuleType, default_worker: CeleryWorker,
) -> None:
    result = group(basic_tasks.add.s(i, i) for i in range(6)).apply_async()
    assert result.get(timeout=30) == [0, 2, 4, 6, 8, 10]
    assert result.completed_count() == 6


def test_a_chord_applies_its_body_to_the_header_results_once(
    basic_tasks: ModuleType, default_worker: CeleryWorker, redis_client: redis.Redis,
) -> None:
    header = [basic_tasks.add.s(i, 1) for i in range(4)]
    result = chord(header, basic_tasks.total.s()).apply_async()
    assert result.get(timeout=30) == 1 + 2 + 3 + 4
    assert executions(redis_client, result.id) == 1
    assert _state(redis_client, join_id(result.parent.id)) == "completed"


def test_link_calls_back_with_the_result(
    basic_tasks: ModuleType, default_worker: CeleryWorker, redis_client: redis.Redis,
) -> None:
    callback = basic_tasks.add.s(100).freeze()
    parent = basic_tasks.add.apply_async((1, 1), link=basic_tasks.add.s(100).set(task_id=callback.id))
    assert parent.get(timeout=30) == 2
    linked = AsyncResult(callback.id, app=basic_tasks.add.app)
    assert linked.get(timeout=30) == 102
    assert redis_client.hget(KEYS.record(callback.id), "parent_id") in (None, parent.id.encode())


def test_link_error_gets_the_failed_task_by_celerys_rules(
    basic_tasks: ModuleType, default_worker: CeleryWorker, redis_client: redis.Redis,
) -> None:
    errbacks = [basic_tasks.on_error.s(), basic_tasks.on_error_inline.s()]
    result = basic_tasks.explode.apply_async(("card declined",), link_error=errbacks)
    with pytest.raises(ValueError, match="card declined"):
        result.get(timeout=30)
    calls = wait_until(lambda: sorted(item.decode() for item in
                                      redis_client.lrange(f"test:errback:{result.id}", 0, -1))
                       if redis_client.llen(f"test:errback:{result.id}") == 2 else None,
                       timeout=30, message="both errbacks")
    assert calls == ["inline ValueError: card declined", "task"]


def test_a_chord_whose_header_fails_raises_chord_error_and_never_runs_the_body(
    basic_tasks: ModuleType, default_worker: CeleryWorker, redis_client: redis.Redis,
) -> None:
    body = basic_tasks.total.s().set(link_error=basic_tasks.on_error.s())
    result = chord([basic_tasks.add.s(1, 1), basic_tasks.explode.s("bad part")], body).apply_async()
    with pytest.raises(ValueError, match="bad part"):  # as Celery: the header's own error
        result.get(timeout=30)
    assert isinstance(result.get(timeout=30, propagate=False), ChordError)
    assert result.state == "FAILURE"
    assert executions(redis_client, result.id) == 0
    assert _state(redis_client, result.id) == "dead_lettered"
    assert redis_client.hget(KEYS.record(result.id), "reason") == b"chord_failed"
    wait_until(lambda: redis_client.llen(f"test:errback:{result.id}") == 1, timeout=30,
               message="the body's errback")


def test_a_step_killed_mid_chain_runs_again_once_and_the_chain_goes_on_once(
    basic_tasks: ModuleType, fast_worker: CeleryWorker, redis_client: redis.Redis,
) -> None:
    result = chain(basic_tasks.add.s(1, 2), basic_tasks.slow_inc.s(),
                   basic_tasks.add.s(10)).apply_async()
    middle = result.parent
    os.kill(running_pid(redis_client, middle.id), signal.SIGKILL)
    assert result.get(timeout=60) == 14
    assert executions(redis_client, middle.id) == 2  # the killed attempt and its re-run
    assert executions(redis_client, result.id) == 1
    assert executions(redis_client, middle.parent.id) == 1


def test_a_chord_body_runs_once_when_a_header_task_is_resurrected(
    basic_tasks: ModuleType, fast_worker: CeleryWorker, redis_client: redis.Redis,
) -> None:
    header = [basic_tasks.slow_inc.s(1), basic_tasks.add.s(2, 2), basic_tasks.add.s(3, 3)]
    result = chord(header, basic_tasks.total.s()).apply_async()
    killed = result.parent.results[0]
    os.kill(running_pid(redis_client, killed.id), signal.SIGKILL)
    assert result.get(timeout=60) == 2 + 4 + 6
    assert executions(redis_client, killed.id) == 2
    assert executions(redis_client, result.id) == 1
    assert executions(redis_client, join_id(result.parent.id)) == 0  # relier's own join task
    history = [entry["event"] for entry in basic_tasks.add.relier.store.history(join_id(result.parent.id))]
    assert history.count("completed") == 1


@pytest.fixture(scope="module")
def mixed_worker(redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory,
                 ) -> Iterator[ModuleType]:
    import mixed_app

    worker = start_worker(redis_server, tmp_path_factory.mktemp("mixed"), "mixed_app.app",
                          queues=("mixed",), include=()).wait_ready()
    yield mixed_app
    worker.stop()


def test_canvases_mix_relier_and_plain_tasks_with_a_result_backend(mixed_worker: ModuleType) -> None:
    app = mixed_worker
    assert chain(app.double.s(5), app.plain_inc.s(), app.double.s()).apply_async().get(timeout=30) == 22
    assert chord([app.double.s(1), app.double.s(2)], app.plain_total.s()).apply_async().get(timeout=30) == 6
    assert chord([app.plain_inc.s(1), app.plain_inc.s(2)], app.total.s()).apply_async().get(timeout=30) == 5
    with pytest.raises(UnsupportedCanvasError, match="mixes relier tasks and plain"):
        chord([app.double.s(1), app.plain_inc.s(2)], app.total.s()).apply_async()
    nested = group(app.double.si(1), chain(app.double.si(2), group(app.double.si(3), app.double.si(4))))
    assert nested.apply_async().get(timeout=30) == [2, [6, 8]]  # joined natively by the backend
    refused = chain(app.double.si(1), nested, app.double.si(5)).apply_async()
    with pytest.raises(UnsupportedCanvasError, match="ends in a group"):  # applied by step 1
        refused.get(timeout=30)


def test_starmap_map_and_chunks_are_relier_tasks(
    basic_tasks: ModuleType, default_worker: CeleryWorker, redis_client: redis.Redis,
) -> None:
    starmap = basic_tasks.add.starmap([(1, 2), (3, 4)]).apply_async()
    assert starmap.get(timeout=30) == [3, 7]
    assert _state(redis_client, starmap.id) == "completed"
    assert basic_tasks.total.map([[1, 2], [3]]).apply_async().get(timeout=30) == [3, 3]
    assert basic_tasks.add.chunks([(i, i) for i in range(5)], 2)().get(timeout=30) == [[0, 2], [4, 6], [8]]
    assert chain(basic_tasks.add.starmap([(1, 2), (3, 4)]), basic_tasks.total.s()).apply_async(
    ).get(timeout=30) == 10


def test_a_hard_timeout_fails_its_chord_and_calls_its_errbacks(
    basic_tasks: ModuleType, default_worker: CeleryWorker, redis_client: redis.Redis,
) -> None:
    timed_out = basic_tasks.stuck_sleep.apply_async(
        link_error=[basic_tasks.on_error.s(), basic_tasks.on_error_inline.s()])
    calls = wait_until(lambda: sorted(item.decode() for item in
                                      redis_client.lrange(f"test:errback:{timed_out.id}", 0, -1))
                       if redis_client.llen(f"test:errback:{timed_out.id}") == 2 else None,
                       timeout=30, message="both errbacks of the timed-out task")
    assert calls[1] == "task"
    assert calls[0].startswith("inline TimeLimitExceeded")
    result = chord([basic_tasks.add.s(1, 1), basic_tasks.stuck_sleep.s()],
                   basic_tasks.total.s()).apply_async()
    assert isinstance(result.get(timeout=30, propagate=False), ChordError)
    assert redis_client.hget(KEYS.record(result.id), "reason") == b"chord_failed"
    assert executions(redis_client, result.id) == 0


def test_a_failed_step_fails_the_rest_of_its_chain_with_its_error(
    basic_tasks: ModuleType, default_worker: CeleryWorker, redis_client: redis.Redis,
) -> None:
    add = basic_tasks.add
    result = chain(add.s(1, 1), basic_tasks.explode.si("step two"), add.s(3), add.s(4)).apply_async()
    with pytest.raises(ValueError, match="step two"):  # as Celery: the chain's last step
        result.get(timeout=30)
    later = [result.parent, result]
    assert [_state(redis_client, step.id) for step in later] == ["dead_lettered"] * 2
    assert [redis_client.hget(KEYS.record(step.id), "reason") for step in later] == [
        b"chain_failed"] * 2
    assert [executions(redis_client, step.id) for step in later] == [0, 0]
    assert result.parent.parent.state == "FAILURE"


def test_a_chain_failing_inside_a_chord_header_fails_the_chord(
    basic_tasks: ModuleType, default_worker: CeleryWorker, redis_client: redis.Redis,
) -> None:
    add = basic_tasks.add
    body = basic_tasks.total.s().set(link_error=basic_tasks.on_error.s())
    header = [chain(basic_tasks.explode.si("in the chain"), add.s(1)), add.s(2, 2)]
    result = chord(header, body).apply_async()
    with pytest.raises(ValueError, match="in the chain"):  # the header's error first
        result.get(timeout=30)
    assert isinstance(result.get(timeout=30, propagate=False), ChordError)
    assert redis_client.hget(KEYS.record(result.id), "reason") == b"chord_failed"
    assert executions(redis_client, result.id) == 0
    wait_until(lambda: redis_client.llen(f"test:errback:{result.id}") == 1, timeout=30,
               message="the body's errback")


def test_an_errback_with_stored_arguments_gets_the_task_id(
    basic_tasks: ModuleType, default_worker: CeleryWorker, redis_client: redis.Redis,
) -> None:
    errback = basic_tasks.on_error_labelled.s("billing")
    result = basic_tasks.explode.apply_async(("declined",), link_error=errback)
    with pytest.raises(ValueError, match="declined"):
        result.get(timeout=30)
    wait_until(lambda: redis_client.lrange(f"test:errback:{result.id}", 0, -1) == [b"task billing"],
               timeout=30, message="the errback, applied as a task with the failed id")


def test_self_replace_gives_the_task_its_replacements_result(
    basic_tasks: ModuleType, default_worker: CeleryWorker, redis_client: redis.Redis,
) -> None:
    callback = basic_tasks.add.s(100).freeze()
    result = basic_tasks.replace_with.apply_async(
        (1,), link=basic_tasks.add.s(100).set(task_id=callback.id))
    assert result.get(timeout=30) == 2
    assert result.state == "SUCCESS"
    assert executions(redis_client, result.id) == 1
    replacement = redis_client.hget(KEYS.record(result.id), "replaced_by")
    assert replacement is not None
    assert executions(redis_client, replacement.decode()) == 1
    assert AsyncResult(callback.id, app=basic_tasks.add.app).get(timeout=30) == 102  # moved on


def test_self_replace_with_a_chain_inside_a_chain_continues_the_chain(
    basic_tasks: ModuleType, default_worker: CeleryWorker,
) -> None:
    add = basic_tasks.add
    result = chain(add.s(1, 1), basic_tasks.replace_with.s(kind="chain"), add.s(100)).apply_async()
    assert result.get(timeout=30) == (2 + 1 + 10) + 100
    assert result.parent.get(timeout=30) == 13


def test_self_replace_with_a_group_gives_the_groups_results(
    basic_tasks: ModuleType, default_worker: CeleryWorker,
) -> None:
    assert basic_tasks.replace_with.delay(5, kind="group").get(timeout=30) == [5, 6, 7]


def test_a_chord_header_task_that_replaces_itself_counts_its_replacement(
    basic_tasks: ModuleType, default_worker: CeleryWorker, redis_client: redis.Redis,
) -> None:
    header = [basic_tasks.replace_with.s(1), basic_tasks.add.s(2, 2)]
    result = chord(header, basic_tasks.total.s()).apply_async()
    assert result.get(timeout=30) == 2 + 4
    assert executions(redis_client, result.id) == 1


def test_a_failed_chord_fails_the_chord_after_it_in_a_chain(
    basic_tasks: ModuleType, default_worker: CeleryWorker, redis_client: redis.Redis,
) -> None:
    add, total = basic_tasks.add, basic_tasks.total
    first = chord([add.s(1, 1), basic_tasks.explode.si("first chord")], total.s())
    second = chord([add.s(1), add.s(2)], total.s())
    result = chain(first, second).apply_async()
    with pytest.raises((ValueError, ChordError)):  # as Celery: the failure reaches the end
        result.get(timeout=30)  # (a parent's error can be raised before the end is recorded)
    reason = wait_until(lambda: redis_client.hget(KEYS.record(result.id), "reason"), timeout=30,
                        message="the second chord's body never recorded its failure")
    assert reason == b"chain_failed"
    assert executions(redis_client, result.id) == 0
