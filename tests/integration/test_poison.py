"""Any bytes in a relier queue: the worker keeps serving, every poison element is a dead letter
with its raw bytes, and every valid task completes exactly once.

POISON_ELEMENTS (default 500) and POISON_SEED set the size and the seed (`nox -s fuzz` runs a
larger sample).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from types import ModuleType

import pytest
import redis

from relier.keys import BrokerKeys
from relier.testing import CeleryWorker, RedisServer, wait_until
from tests.conftest import start_worker
from tests.poison import PWNED_PATH, Poison, poison_elements
from tests.support import KEYS, executions

ELEMENTS = int(os.environ.get("POISON_ELEMENTS", "500"))
SEED = int(os.environ.get("POISON_SEED", "20261203"))
VALID_TASKS = 200


def _dead_letters(client: redis.Redis) -> tuple[set[bytes], set[str]]:
    """Raw bytes and claimed ids of every raw dead letter, and ids of dead-lettered tasks."""
    raws: set[bytes] = set()
    claimed: set[str] = set()
    members = client.zrange(KEYS.dead_letters, 0, -1)
    pipe = client.pipeline(transaction=False)
    for member in members:
        pipe.hmget(KEYS.record(member.decode()), "raw", "claimed_id")
    for member, (raw, claimed_id) in zip(members, pipe.execute(), strict=True):
        if raw is not None:
            raws.add(raw)
        claimed.add((claimed_id or member).decode())
    return raws, claimed


def _kept(poison: Poison, raws: set[bytes], claimed: set[str]) -> bool:
    return poison.element in raws or (poison.claimed_id is not None and poison.claimed_id in claimed)


@pytest.fixture
def fuzz_worker(redis_server: RedisServer, tmp_path: Path) -> CeleryWorker:
    worker = start_worker(redis_server, tmp_path, queues=("default",)).wait_ready()
    yield worker
    worker.stop()


def test_poison_elements_never_stop_the_worker_or_vanish(
    basic_tasks: ModuleType, fuzz_worker: CeleryWorker, redis_client: redis.Redis,
) -> None:
    relier = basic_tasks.add.relier
    elements = poison_elements(ELEMENTS, SEED, basic_tasks.add.spec, relier)
    lists = [BrokerKeys().queue_list("default", step) for step in (0, 0, 3, 9)]
    handles = []

    def push_valid() -> None:
        for number in range(VALID_TASKS):
            handles.append(basic_tasks.add.push(number, 1))

    producer = threading.Thread(target=push_valid)
    producer.start()
    pipe = redis_client.pipeline(transaction=False)
    for index, poison in enumerate(elements):
        pipe.lpush(lists[index % len(lists)], poison.element)
    pipe.execute()
    producer.join()

    for handle in handles:
        assert handle.result(timeout=120) is not None
    missing: list[Poison] = []

    def all_kept() -> bool:
        raws, claimed = _dead_letters(redis_client)
        missing[:] = [poison for poison in elements if not _kept(poison, raws, claimed)]
        return not missing

    wait_until(all_kept, timeout=120, message=lambda: (
        f"{len(missing)} of {len(elements)} poison elements are not dead letters, e.g. "
        f"{[(p.kind, p.element[:120]) for p in missing[:5]]}"))
    assert fuzz_worker.process is not None
    assert fuzz_worker.process.poll() is None
    assert "Unrecoverable error" not in fuzz_worker.log()
    assert [executions(redis_client, handle.id) for handle in handles] == [1] * VALID_TASKS
    poisoned_ids = [poison.claimed_id for poison in elements if poison.claimed_id]
    assert sum(executions(redis_client, task_id) for task_id in poisoned_ids) == 0
    assert not Path(PWNED_PATH).exists(), "a pickle body was unpickled"
    assert basic_tasks.add.push(2, 3).result(timeout=30) == 5
    print(_reason_counts(redis_client), len(elements))


def _reason_counts(client: redis.Redis) -> dict[str, int]:
    counts: dict[str, int] = {}
    for member in client.zrange(KEYS.dead_letters, 0, -1):
        reason = (client.hget(KEYS.record(member.decode()), "reason") or b"?").decode()
        counts[reason] = counts.get(reason, 0) + 1
    return counts
