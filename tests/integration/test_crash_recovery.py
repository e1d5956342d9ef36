"""Phoenix: processes really killed and paused; executions counted in Redis."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import redis

from relier import DeadLetterReason, TaskFailedError
from relier.eventstream import EventStream
from relier.testing import FAST_LEASES, CeleryWorker, RedisServer, stop_process, wait_until
from tests.conftest import start_worker
from tests.support import (
    KEYS,
    describe_task,
    executions,
    pause_worker,
    process_state,
    resume,
    resurrection_events,
    running_pid,
    start_resurrector,
)


@pytest.fixture
def resurrector(redis_server: RedisServer, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    process = start_resurrector(redis_server.url, tmp_path / "resurrector.log")
    yield process
    stop_process(process)


@pytest.fixture
def fast_worker(redis_server: RedisServer, tmp_path: Path) -> Iterator[CeleryWorker]:
    worker = start_worker(redis_server, tmp_path / "a", env=FAST_LEASES).wait_ready()
    yield worker
    worker.kill()


def test_killed_pool_process_is_requeued_at_once(
    basic_tasks: ModuleType, fast_worker: CeleryWorker, redis_client: redis.Redis
) -> None:
    for _ in range(3):
        handle = basic_tasks.hold.push(60)
        os.kill(running_pid(redis_client, handle.id), signal.SIGKILL)
        result = handle.result(timeout=30)
        assert result["attempt"] == 2
        assert result["fence"] == 3  # start 1, lost bumps to 2, the new start to 3
        assert executions(redis_client, handle.id) == 2
        history = [entry["event"] for entry in basic_tasks.hold.relier.store.history(handle.id)]
        assert history == ["started", "lost", "started", "completed"]
        resurrected = redis_client.hget(KEYS.record(handle.id), "resurrections")
        assert resurrected == b"1"


def test_poison_pill_is_dead_lettered_after_the_cap(
    basic_tasks: ModuleType, fast_worker: CeleryWorker, redis_client: redis.Redis
) -> None:
    handle = basic_tasks.poison.push()
    with pytest.raises(TaskFailedError) as caught:
        handle.result(timeout=60)
    assert caught.value.reason == DeadLetterReason.MAX_RESURRECTIONS
    assert executions(redis_client, handle.id) == 3
    history = basic_tasks.poison.relier.store.history(handle.id)
    assert [entry["event"] for entry in history].count("lost") == 3
    assert basic_tasks.add.push(1, 1).result(timeout=30) == 2


def test_whole_worker_killed_tasks_move_to_another_worker(
    basic_tasks: ModuleType,
    redis_server: RedisServer,
    fast_worker: CeleryWorker,
    resurrector: subprocess.Popen[bytes],
    redis_client: redis.Redis,
    tmp_path: Path,
) -> None:
    handles = [basic_tasks.hold.push(60) for _ in range(2)]
    for handle in handles:
        running_pid(redis_client, handle.id)
    fast_worker.kill()
    replacement = start_worker(redis_server, tmp_path / "b", env=FAST_LEASES).wait_ready()
    try:
        results = [handle.result(timeout=60) for handle in handles]
    finally:
        replacement.kill()
    assert [result["attempt"] for result in results] == [2, 2]
    assert [executions(redis_client, handle.id) for handle in handles] == [2, 2]


@pytest.mark.parametrize("wakes_first", ["attempt", "worker"])
def test_paused_worker_is_fenced_off_and_newer_attempt_wins(
    basic_tasks: ModuleType,
    redis_server: RedisServer,
    fast_worker: CeleryWorker,
    resurrector: subprocess.Popen[bytes],
    redis_client: redis.Redis,
    tmp_path: Path,
    wakes_first: str,
) -> None:
    """A worker paused past its lease loses its task to a newer attempt. Once the resurrector
    has re-queued it and attempt 2 completed, the paused processes wake in a set order, so that
    each way attempt 1 can end is pinned: the pool process first (its late write is rejected),
    or the main process first (it kills that pool process before it writes)."""
    handle = basic_tasks.hold.push(3)
    paused_pid = running_pid(redis_client, handle.id)
    # The whole worker, pool processes included: they lead their own process groups, and a
    # pool process left running finishes attempt 1 before its lease is reaped.
    paused = pause_worker(fast_worker)
    assert paused_pid in paused[1:]
    main, pool = paused[:1], paused[1:]
    first, then = (pool, main) if wakes_first == "attempt" else (main, pool)
    reaped_line = f"lease of {fast_worker.hostname}/{paused_pid} was reaped"
    replacement = start_worker(redis_server, tmp_path / "b", env=FAST_LEASES)

    def report() -> str:
        states = ", ".join(f"{pid}: {process_state(pid)}" for pid in paused)
        leases = redis_client.zrange(KEYS.leases, 0, -1, withscores=True)
        return (f"{describe_task(redis_client, handle.id)}\npaused pids {states} "
                f"(attempt 1 ran in {paused_pid})\nleases {leases} at {redis_client.time()}, "
                f"resurrector {redis_client.hgetall(KEYS.resurrector)} (exit status "
                f"{resurrector.poll()}, replacement's {replacement.process and replacement.process.poll()})\n"
                f"--- paused worker log (tail)\n"
                f"{fast_worker.log()[-2500:]}\n--- replacement log (tail)\n"
                f"{replacement.log()[-1500:]}\n--- resurrector log (tail)\n"
                f"{(tmp_path / 'resurrector.log').read_text(errors='replace')[-1500:]}")

    def paused_attempt_end() -> str | None:
        """How attempt 1 ended: its late write rejected, or its process killed before it wrote."""
        rejected = EventStream(redis_client, KEYS.events).read(
            task_id=handle.id, event_type="rejected_write").events
        if any(event.get("fence") == "1" for event in rejected):
            return "rejected"
        return "killed" if process_state(paused_pid) in {"Z", "gone"} else None

    try:
        replacement.wait_ready()
        try:
            result = handle.result(timeout=60)
        except TimeoutError as exc:
            raise AssertionError(f"attempt 2 never completed\n{report()}") from exc
        resume(first)
        ending = wait_until(paused_attempt_end, timeout=30,
                            message=lambda: f"attempt 1 neither rejected nor killed\n{report()}")
        assert ending == ("rejected" if wakes_first == "attempt" else "killed"), report()
        resume(then)
        # Awake, the worker fences off the process whose lease was reaped, whichever woke first.
        wait_until(lambda: reaped_line in fast_worker.log(), timeout=30,
                   message=lambda: f"the worker never fenced off {paused_pid}\n{report()}")
        if ending == "killed":  # the worker's fast path must find that copy stale, not re-queue it
            lost = f"task {handle.id} lost its process {fast_worker.hostname}/{paused_pid}: "
            wait_until(lambda: lost in fast_worker.log(), timeout=30,
                       message=lambda: f"no fast-path line for the killed attempt\n{report()}")
            assert f"{lost}stale" in fast_worker.log(), report()
    finally:
        resume(paused)
        replacement.kill()
    assert (result["attempt"], result["fence"]) == (2, 3), report()
    assert handle.result(timeout=5) == result
    record = redis_client.hmget(KEYS.record(handle.id), "state", "attempt", "fence")
    assert record == [b"completed", b"2", b"3"], report()
    assert executions(redis_client, handle.id) == 2


def test_async_body_blocking_its_loop_is_not_taken_for_dead(
    basic_tasks: ModuleType,
    fast_worker: CeleryWorker,
    resurrector: subprocess.Popen[bytes],
    redis_client: redis.Redis,
) -> None:
    handle = basic_tasks.block_loop.push(7.5)  # 3 x (TTL + refresh interval) of FAST_LEASES
    assert handle.result(timeout=60) == 1
    assert executions(redis_client, handle.id) == 1
    assert resurrection_events(redis_client, handle.id) == []


def test_celery_acks_late_settings_cannot_requeue_a_second_copy(
    redis_server: RedisServer, redis_client: redis.Redis, tmp_path: Path
) -> None:
    import prefetch_app

    worker = start_worker(redis_server, tmp_path, "prefetch_app.app", queues=("prefetch",),
                          include=(), env=FAST_LEASES).wait_ready()
    try:
        handle = prefetch_app.hold.push(60)
        os.kill(running_pid(redis_client, handle.id), signal.SIGKILL)
        assert handle.result(timeout=30) == 2
        assert executions(redis_client, handle.id) == 2
    finally:
        worker.stop()
    # With acks_late + reject_on_worker_lost, Celery would push the old copy back itself.
    assert f"dropping copy {handle.id}.1" not in worker.log()
    assert redis_client.llen("prefetch") == 0


def test_recovered_task_goes_ahead_of_the_backlog(
    basic_tasks: ModuleType, fast_worker: CeleryWorker, redis_client: redis.Redis
) -> None:
    handle = basic_tasks.hold.push(60)
    pid = running_pid(redis_client, handle.id)
    backlog = [basic_tasks.nap.push(0.3) for _ in range(10)]
    os.kill(pid, signal.SIGKILL)
    running_pid(redis_client, handle.id, attempt=2)
    still_queued = sum(
        redis_client.hget(KEYS.record(task.id), "state") == b"queued" for task in backlog
    )
    assert still_queued >= 5  # re-queued at the front: it did not wait behind the backlog
    assert handle.result(timeout=30)["attempt"] == 2
    for task in backlog:
        task.result(timeout=30)
