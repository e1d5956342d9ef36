"""Helpers shared by the integration tests: execution counts, pids, events, resurrector processes."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import subprocess
from pathlib import Path
from types import ModuleType

import redis

from relier import Relier, TaskHandle
from relier.config import Settings
from relier.eventstream import EventStream
from relier.keys import Keys
from relier.phoenix import Resurrector
from relier.procinfo import PROC, children, parse_state
from relier.store import Store
from relier.testing import FAST_LEASES, CeleryWorker, RedisServer, wait_until
from relier.testing import start_resurrector as start_resurrector_process
from tests.conftest import start_worker

KEYS = Keys()


def settings_for(url: str, **env: str) -> Settings:
    """Settings of a test process against `url` (development key allowed, as in tests)."""
    return Settings.from_env({"RELIER_ENV": "test", "RELIER_REDIS_URL": url, **env})


def reconciling_resurrector(relier: Relier, reconcile_after: float) -> Resurrector:
    """A resurrector (run in-process, one `run_pass` at a time) that reconciles quickly."""
    settings = dataclasses.replace(relier.settings, reconcile_after=reconcile_after)
    return Resurrector(Store(relier.connections, settings, relier.broker_keys), settings,
                       relier.broker_keys.queue_list("default", 0))


def executions(client: redis.Redis, task_id: str) -> int:
    """How many times a test task's body ran (each body INCRs test:exec:<id>)."""
    return int(client.get(f"test:exec:{task_id}") or 0)


def running_pid(client: redis.Redis, task_id: str, attempt: int = 1) -> int:
    """Wait for attempt `attempt` of a `tests.hold` task to start; its pool process's pid."""
    raw = wait_until(lambda: client.get(f"test:pid:{task_id}:{attempt}"), timeout=30,
                     message=f"attempt {attempt} of {task_id} never started")
    return int(raw)


def raw_dead_letter(client: redis.Redis, claimed_id: str) -> str | None:
    """The id of the raw dead letter (a message that never ran) claiming to be `claimed_id`."""
    for member in client.zrange(KEYS.dead_letters, 0, -1):
        entry = member.decode()
        if entry.startswith("x-") and client.hget(KEYS.record(entry), "claimed_id") == claimed_id.encode():
            return entry
    return None


def events_of(client: redis.Redis, task_id: str) -> list[dict[bytes, bytes]]:
    """One task's lifecycle events, oldest first, fields as bytes (as these tests compare them)."""
    events = EventStream(client, KEYS.events).read(task_id=task_id).events
    return [{name.encode(): value.encode() for name, value in event.items() if name != "event_id"}
            for event in events]


def describe_task(client: redis.Redis, task_id: str) -> str:
    """A task's record (state, attempt, fence, holder) and its events, for failure messages."""
    fields = ("state", "attempt", "fence", "holder", "process")
    record = dict(zip(fields, client.hmget(KEYS.record(task_id), fields), strict=True))
    events = [" ".join(f"{name}={value}" for name, value in event.items()
                       if name not in {"event_id", "id"})
              for event in EventStream(client, KEYS.events).read(task_id=task_id).events]
    return f"record {record}\nevents:\n  " + "\n  ".join(events)


def process_state(pid: int) -> str:
    """`pid`'s one-letter state (``T`` stopped, ``Z`` zombie...), ``gone`` once reaped."""
    try:
        return parse_state((PROC / str(pid) / "stat").read_text())
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return "gone"


def pause_worker(worker: CeleryWorker) -> list[int]:
    """SIGSTOP a whole worker: its main process first (a stopped parent forks no new pool
    process), then each pool process. Pool processes lead their own process groups, so
    signalling the worker's group alone leaves them running. Returns the pids, for `resume`."""
    os.kill(worker.pid, signal.SIGSTOP)
    paused = [worker.pid, *children(worker.pid)]
    for pid in paused[1:]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGSTOP)
    try:
        wait_until(lambda: all(process_state(pid) in {"T", "Z", "gone"} for pid in paused), timeout=10,
                   message=lambda: f"not all stopped: {[(pid, process_state(pid)) for pid in paused]}")
    except TimeoutError:
        resume(paused)  # a killed worker's stopped pool processes would otherwise stay behind
        raise
    return paused


def resume(pids: list[int]) -> None:
    """SIGCONT the processes `pause_worker` stopped."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)


def resurrection_events(client: redis.Redis, task_id: str) -> list[bytes]:
    return [fields[b"type"] for fields in events_of(client, task_id)
            if fields[b"type"] in {b"resurrected", b"requeued"}]


def start_resurrector(
    url: str, log_path: Path, extra_env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """`rl run-resurrector` as a real process with fast leases."""
    return start_resurrector_process(url, log_path, {**FAST_LEASES, **(extra_env or {})})


def busy_worker(
    basic_tasks: ModuleType, redis_server: RedisServer, client: redis.Redis, log_dir: Path, tasks: int
) -> tuple[CeleryWorker, list[TaskHandle]]:
    """A worker with `tasks` pool processes, each running a long first attempt of `tests.hold`."""
    worker = start_worker(redis_server, log_dir, env=FAST_LEASES, concurrency=tasks).wait_ready()
    handles = [basic_tasks.hold.push(60) for _ in range(tasks)]
    for handle in handles:
        running_pid(client, handle.id)
    return worker, handles
