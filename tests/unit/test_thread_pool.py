"""relier's threads pool wakes the worker's event loop after each task's completion callback."""

from __future__ import annotations

import select
import threading

from kombu.asynchronous import Hub

from relier.worker.thread_pool import Waker, WakingThreadPool


def _readable(fd: int, timeout: float) -> bool:
    return bool(select.select([fd], [], [], timeout)[0])


def _pool_on_a_hub() -> tuple[WakingThreadPool, Hub, Waker]:
    hub = Hub()
    pool = WakingThreadPool(limit=1)
    pool.start()
    pool.register_with_event_loop(hub)
    assert pool._waker is not None
    return pool, hub, pool._waker


def test_the_pipe_turns_readable_only_after_the_completion_callback() -> None:
    pool, hub, waker = _pool_on_a_hub()
    release = threading.Event()
    done: list[object] = []
    try:
        pool.apply_async(release.wait, args=(30,), callback=done.append)
        assert not _readable(waker.read_fd, 0.05)  # the body still runs: no wake-up yet
        release.set()
        assert _readable(waker.read_fd, 30)
        assert done == [True]  # the callback (which frees the slot) ran before the wake-up
        waker.drain()
        assert not _readable(waker.read_fd, 0)
        assert waker.read_fd in hub.readers
    finally:
        release.set()
        pool.stop()
    assert pool._waker is None
    assert waker.read_fd not in hub.readers
    hub.close()


def test_without_an_event_loop_the_callback_is_left_as_it_is() -> None:
    pool = WakingThreadPool(limit=1)
    pool.start()
    finished = threading.Event()
    try:
        pool.apply_async(lambda: None, callback=lambda _result: finished.set())
        assert finished.wait(30)
    finally:
        pool.stop()


def test_a_stopped_pools_late_wake_up_is_harmless() -> None:
    pool, hub, waker = _pool_on_a_hub()
    pool.stop()
    assert waker.read_fd not in hub.readers
    waker.wake()  # a thread finishing after stop: the pipe is closed, nothing is raised
    hub.close()
