"""The one reader of the lifecycle event stream: positions, blocking reads, batches, filters."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import pytest
import redis

from relier.eventstream import NEW, START, EventStream


@pytest.fixture
def stream(redis_client: redis.Redis) -> Iterator[EventStream]:
    key = f"test:events:{uuid.uuid4().hex}"
    yield EventStream(redis_client, key)
    redis_client.delete(key)


def add(stream: EventStream, task_id: str, event_type: str) -> str:
    return str(stream.client.xadd(stream.key, {"id": task_id, "type": event_type}).decode())


def test_reads_from_the_start_or_after_an_id_as_text(stream: EventStream) -> None:
    assert stream.newest_id() == START
    first = add(stream, "a", "dispatched")
    second = add(stream, "a", "started")
    last_id, events = stream.read()
    assert events == [{"id": "a", "type": "dispatched", "event_id": first},
                      {"id": "a", "type": "started", "event_id": second}]
    assert last_id == second == stream.newest_id()
    assert stream.read(first).events == events[1:]
    assert stream.read(second) == (second, [])


def test_batches_of_count_resume_where_the_last_one_ended(stream: EventStream) -> None:
    ids = [add(stream, f"t{n}", "dispatched") for n in range(5)]
    seen: list[str] = []
    last_id = START
    while len(seen) < 5:
        last_id, events = stream.read(last_id, count=2)
        assert 0 < len(events) <= 2
        seen += [event["event_id"] for event in events]
    assert seen == ids


def test_filters_keep_one_task_or_one_type_and_still_advance(stream: EventStream) -> None:
    add(stream, "a", "dispatched")
    add(stream, "b", "dispatched")
    newest = add(stream, "a", "completed")
    batch = stream.read(task_id="a")
    assert [event["type"] for event in batch.events] == ["dispatched", "completed"]
    assert batch.last_id == newest
    assert [event["id"] for event in stream.read(event_type="dispatched").events] == ["a", "b"]
    assert stream.read(task_id="b", event_type="completed") == (newest, [])
    assert [e["type"] for e in stream.latest(2)] == ["dispatched", "completed"]
    assert [e["id"] for e in stream.latest(10, event_type="dispatched")] == ["a", "b"]


def test_new_pins_to_the_newest_event_and_a_blocking_read_waits_for_the_next(stream: EventStream) -> None:
    pinned = add(stream, "old", "dispatched")
    began = time.monotonic()
    assert stream.read(NEW, block_ms=200) == (pinned, [])
    assert time.monotonic() - began >= 0.15

    ready = threading.Event()

    def write_later() -> None:
        ready.wait(10)
        add(stream, "new", "started")

    writer = threading.Thread(target=write_later)
    writer.start()
    ready.set()
    try:
        last_id, events = stream.read(pinned, block_ms=10_000)
    finally:
        writer.join(10)
    assert [event["id"] for event in events] == ["new"]
    assert last_id == events[0]["event_id"]
