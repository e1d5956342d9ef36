"""Helpers shared by the integration tests: execution counts, pids, resurrector processes."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import redis

from relier import Relier, TaskHandle
from relier.config import Settings
from relier.keys import Keys
from relier.phoenix import Resurrector
from relier.store import Store
from relier.testing import CeleryWorker, RedisServer, wait_until
from tests.conftest import start_worker

KEYS = Keys()
#: Short leases so recovery tests finish in seconds.
FAST_LEASES = {"RELIER_LEASE_TTL": "2", "RELIER_LEASE_REFRESH_INTERVAL": "0.5",
               "RELIER_RESURRECTOR_INTERVAL": "0.2"}


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
    return [fields for _, fields in client.xrange(KEYS.events) if fields.get(b"id") == task_id.encode()]


def resurrection_events(client: redis.Redis, task_id: str) -> list[bytes]:
    return [fields[b"type"] for fields in events_of(client, task_id)
            if fields[b"type"] in {b"resurrected", b"requeued"}]


def start_resurrector(
    url: str, log_path: Path, extra_env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """`rl run-resurrector` as a real process with fast leases."""
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "relier.cli", "run-resurrector", "--log-level", "warning"],
            env={**os.environ, **FAST_LEASES, **(extra_env or {}), "RELIER_REDIS_URL": url},
            stdout=log, stderr=subprocess.STDOUT,
        )


def stop_process(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    process.wait(15)


def busy_worker(
    basic_tasks: ModuleType, redis_server: RedisServer, client: redis.Redis, log_dir: Path, tasks: int
) -> tuple[CeleryWorker, list[TaskHandle]]:
    """A worker with `tasks` pool processes, each running a long first attempt of `tests.hold`."""
    worker = start_worker(redis_server, log_dir, env=FAST_LEASES, concurrency=tasks).wait_ready()
    handles = [basic_tasks.hold.push(60) for _ in range(tasks)]
    for handle in handles:
        running_pid(client, handle.id)
    return worker, handles
