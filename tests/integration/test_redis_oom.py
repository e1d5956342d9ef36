"""Redis out of memory mid-run: no worker main process dies, nothing accepted is lost, and no
idempotent task runs twice.

Redis refuses writes once ``used_memory`` passes ``maxmemory`` (noeviction). The test sets the
limit half a megabyte below what Redis uses now while 2,000 idempotent tasks flow (the queue's
elements the worker pops free far less, so the worker cannot slip back under it), waits until
producers and workers have met the refusals, then lifts it. Bodies count themselves in a file, not in Redis.
"""

from __future__ import annotations

import collections
import threading
import time
from pathlib import Path
from types import ModuleType

import redis

from relier import TaskHandle
from relier.testing import RedisServer, stop_process, wait_until
from tests.conftest import start_worker
from tests.support import start_resurrector

TASKS = 2000
#: How far below its current use Redis' limit is set: more than the worker's pops can free.
OVER_LIMIT = 512 * 1024
MEMORY_REFUSAL = "command not allowed when used memory > 'maxmemory'"


class Producer(threading.Thread):
    """Pushes every task, retrying a refused push under the same task id (safe: dispatch
    returns the existing task for an id it already has)."""

    def __init__(self, task: object, path: Path) -> None:
        super().__init__(daemon=True)
        self.task = task
        self.path = path
        self.handles: list[TaskHandle] = []
        self.refusals = 0
        self.failure: BaseException | None = None

    def run(self) -> None:
        try:
            for number in range(TASKS):
                self.handles.append(self._push(number))
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.failure = exc

    def _push(self, number: int) -> TaskHandle:
        deadline = time.monotonic() + 120
        while True:
            try:
                return self.task.push_with((str(self.path), number), task_id=f"oom-{number}-{id(self)}")  # type: ignore[attr-defined]
            except redis.exceptions.OutOfMemoryError:
                self.refusals += 1
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.01)  # back-off between refused pushes, not synchronisation


def test_out_of_memory_kills_no_main_process_and_loses_nothing(
    basic_tasks: ModuleType, redis_server: RedisServer, redis_client: redis.Redis, tmp_path: Path,
) -> None:
    notes = tmp_path / "executions"
    notes.touch()
    worker = start_worker(redis_server, tmp_path / "worker", queues=("default",)).wait_ready()
    resurrector = start_resurrector(redis_server.url, tmp_path / "resurrector.log")
    producer = Producer(basic_tasks.note, notes)
    try:
        producer.start()
        wait_until(lambda: len(producer.handles) >= 300, timeout=60)
        used = int(redis_client.info("memory")["used_memory"])
        redis_client.config_set("maxmemory", used - OVER_LIMIT)
        try:
            wait_until(lambda: producer.refusals >= 50 or producer.failure is not None,
                       timeout=60, message="no push was refused for memory")
            # Redis' refusal, as a plain command's OOM error or inside a script's error
            wait_until(lambda: MEMORY_REFUSAL in worker.log(), timeout=60,
                       message="the worker never met an out-of-memory reply")
        finally:
            redis_client.config_set("maxmemory", 0)
        producer.join(180)
        assert producer.failure is None, producer.failure
        assert len(producer.handles) == TASKS
        for handle in producer.handles:
            handle.result(timeout=120)
        assert worker.process is not None
        assert worker.process.poll() is None, worker.log()[-3000:]
        assert resurrector.poll() is None
        runs = collections.Counter(notes.read_text().split())
        assert len(runs) == TASKS
        assert {task_id: count for task_id, count in runs.items() if count > 1} == {}
    finally:
        redis_client.config_set("maxmemory", 0)
        stop_process(resurrector)
        worker.stop()
