"""Every transition appends to the lifecycle stream, in order."""

from __future__ import annotations

from types import ModuleType

import redis

from relier.keys import Keys
from relier.testing import CeleryWorker, wait_until

KEYS = Keys()


def events_for(client: redis.Redis, task_id: str) -> list[dict[str, str]]:
    entries = client.xrange(KEYS.events)
    decoded = [{k.decode(): v.decode() for k, v in fields.items()} for _, fields in entries]
    return [event for event in decoded if event["id"] == task_id]


def test_successful_task_events_in_order(
    basic_tasks: ModuleType, default_worker: CeleryWorker, redis_client: redis.Redis
) -> None:
    handle = basic_tasks.add.push(1, 2)
    handle.result(timeout=30)
    events = wait_until(
        lambda: (found := events_for(redis_client, handle.id)) and len(found) >= 3 and found,
        timeout=10,
    )
    # prefork with prefetch disabled takes a message only for a free process: no `received`
    assert [event["type"] for event in events] == ["dispatched", "started", "completed"]
    assert events[1]["attempt"] == "1"
    assert events[1]["fence"] == "1"
    assert events[2]["fence"] == "1"
    assert events[1]["worker"].startswith(default_worker.hostname)


def test_failed_task_events_in_order(
    basic_tasks: ModuleType, default_worker: CeleryWorker, redis_client: redis.Redis
) -> None:
    handle = basic_tasks.explode.push("boom")
    wait_until(lambda: handle.state.is_terminal, timeout=30)
    types = [event["type"] for event in events_for(redis_client, handle.id)]
    assert types == ["dispatched", "started", "failed", "dead_lettered"]
