"""Reading and clearing what benchmarks leave in Redis: counters, queues, task attempts."""

from __future__ import annotations

import time
from typing import Any

import redis

from relier.binding import Relier

#: The priority steps kombu's Redis transport keeps one list each for.
PRIORITY_STEPS = (0, 3, 6, 9)


def counter(client: redis.Redis, key: str) -> int:
    raw: Any = client.get(key)
    return int(raw or 0)


def counters(client: redis.Redis, keys: list[str]) -> list[int]:
    return [int(value or 0) for value in client.mget(keys)]


def arm_counts(client: redis.Redis, arm: str, ids: list[str], kind: str) -> list[int]:
    """The ``bench:<kind>:<arm>:<id>`` counter (``exec`` or ``done``) of each task id."""
    return counters(client, [f"bench:{kind}:{arm}:{task_id}" for task_id in ids])


def wait_for_completions(client: redis.Redis, arm: str, ids: list[str], *, settle: float,
                         cap: float) -> float:
    """Until every id completed, `settle` s pass without progress, or `cap` s in all.

    Returns the seconds waited.
    """
    started = time.monotonic()
    last_change = started
    last_state: tuple[int, int] = (-1, -1)
    while True:
        done = sum(1 for count in arm_counts(client, arm, ids, "done") if count)
        state = (done, sum(arm_counts(client, arm, ids, "exec")))
        now = time.monotonic()
        if state != last_state:
            last_state, last_change = state, now
        if done >= len(ids) or now - last_change >= settle or now - started >= cap:
            return time.monotonic() - started
        time.sleep(0.05)


def attempt_start(client: redis.Redis, task_id: str, attempt: int) -> tuple[int, float] | None:
    """(pid, body start time) an attempt recorded, or None before it started."""
    fields: dict[bytes, bytes] = client.hgetall(  # type: ignore[assignment]
        f"bench:attempt:{task_id}:{attempt}")
    if not fields:
        return None
    return int(fields[b"pid"]), float(fields[b"start"])


def queue_lists(relier: Relier, queue: str) -> list[str]:
    """The broker's lists for `queue`, one per priority step."""
    return [relier.broker_keys.queue_list(queue, step) for step in PRIORITY_STEPS]


def queued(client: redis.Redis, relier: Relier, queue: str) -> int:
    """Messages waiting in `queue`, over every priority step."""
    return sum(int(client.llen(name)) for name in queue_lists(relier, queue))


def delete_matching(client: redis.Redis, pattern: str) -> int:
    """Delete every key matching `pattern`, 1,000 at a time; returns how many went."""
    deleted = 0
    batch: list[bytes] = []
    for key in client.scan_iter(match=pattern, count=1000):
        batch.append(key)
        if len(batch) >= 1000:
            deleted += int(client.delete(*batch))
            batch.clear()
    if batch:
        deleted += int(client.delete(*batch))
    return deleted
