"""A push whose answer is lost never queues a task twice, and says when the outcome is unknown.

The producer talks to Redis through the loopback fault proxy with a short socket timeout;
the proxy holds every reply past that timeout, so the dispatch script runs in Redis while the
producer sees a timeout.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import pytest
import redis
from celery import Celery

from relier import PushOutcomeUnknownError, Relier
from relier.chaos.proxy import FaultProxy
from relier.testing import RedisServer, free_port, wait_until
from tests.support import KEYS, settings_for

QUEUE = "push-timeout"


@pytest.fixture
def proxy(redis_server: RedisServer) -> Iterator[FaultProxy]:
    proxy = FaultProxy("127.0.0.1", redis_server.port).start()
    yield proxy
    proxy.stop()


def _producer(proxy: FaultProxy, redis_server: RedisServer, window: str) -> Relier:
    settings = settings_for(proxy.url_for(redis_server.url), RELIER_SOCKET_TIMEOUT="0.3",
                            RELIER_PUSH_RETRY_WINDOW=window)
    relier = Relier(Celery("push-timeout", set_as_current=False), settings=settings)

    @relier.task(name="tests.push_timeout", queue=QUEUE)
    def noted(value: int) -> int:
        return value

    return relier


def _copies(client: redis.Redis, task_id: str) -> int:
    """Messages of `task_id` in the queue, and its dispatched events."""
    queued = sum(task_id.encode() in element for element in client.lrange(QUEUE, 0, -1))
    dispatched = sum(1 for _, fields in client.xrange(KEYS.events)
                     if fields.get(b"id") == task_id.encode() and fields[b"type"] == b"dispatched")
    assert queued == dispatched
    return queued


def _heal_once_recorded(proxy: FaultProxy, client: redis.Redis, task_id: str) -> threading.Thread:
    """Heal the link as soon as the first (unanswered) try has created the task in Redis."""
    def heal() -> None:
        wait_until(lambda: client.exists(KEYS.record(task_id)), timeout=30)
        proxy.heal()

    thread = threading.Thread(target=heal)
    thread.start()
    return thread


def test_retried_push_finds_its_own_task_and_queues_it_once(
    proxy: FaultProxy, redis_server: RedisServer, redis_client: redis.Redis,
) -> None:
    relier = _producer(proxy, redis_server, window="30")
    task = relier.tasks["tests.push_timeout"]
    task.push(0)  # connect and load the script while the link is clean
    proxy.delay(1.0)
    healer = _heal_once_recorded(proxy, redis_client, "unanswered-1")
    handle = task.push_with((1,), task_id="unanswered-1")
    healer.join()
    assert handle.id == "unanswered-1"
    assert handle.existing is False  # its own earlier try, not somebody else's task
    assert _copies(redis_client, handle.id) == 1


def test_async_retried_push_queues_once(
    proxy: FaultProxy, redis_server: RedisServer, redis_client: redis.Redis,
) -> None:
    relier = _producer(proxy, redis_server, window="30")
    task = relier.tasks["tests.push_timeout"]

    async def push() -> str:
        await task.apush(0)
        proxy.delay(1.0)
        healer = _heal_once_recorded(proxy, redis_client, "unanswered-async")
        handle = await task.apush_with((2,), task_id="unanswered-async")
        healer.join()
        assert handle.existing is False
        return handle.id

    assert _copies(redis_client, asyncio.run(push())) == 1


def test_unknown_outcome_names_the_task_and_a_second_push_settles_it(
    proxy: FaultProxy, redis_server: RedisServer, redis_client: redis.Redis,
) -> None:
    relier = _producer(proxy, redis_server, window="1")
    task = relier.tasks["tests.push_timeout"]
    task.push(0)
    proxy.delay(2.0)
    with pytest.raises(PushOutcomeUnknownError) as caught:
        task.push_with((3,), task_id="unknown-outcome")
    assert caught.value.task_id == "unknown-outcome"
    assert "may be queued" in str(caught.value)
    assert isinstance(caught.value, TimeoutError)
    proxy.heal()
    wait_until(lambda: redis_client.exists(KEYS.record("unknown-outcome")), timeout=30)
    again = task.push_with((3,), task_id="unknown-outcome")
    assert again.existing is True  # the first push did land; this one pushed nothing
    assert _copies(redis_client, "unknown-outcome") == 1


def test_a_push_that_never_connected_fails_at_once_as_not_queued() -> None:
    relier = Relier(Celery("push-refused", set_as_current=False), settings=settings_for(
        f"redis://127.0.0.1:{free_port()}/0", RELIER_PUSH_RETRY_WINDOW="30"))
    task = relier.task(name="tests.push_refused")(lambda: None)
    began = time.monotonic()
    with pytest.raises(redis.ConnectionError, match="connecting to"):
        task.push()
    assert time.monotonic() - began < 5  # not retried: nothing was sent, so nothing is queued
