"""Celery's revoke on a relier task is persistent: a restart or a resurrection never undoes it,
and ``terminate=True`` stops a running body without a resurrection or a handoff."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import redis
from celery import states
from celery.result import AsyncResult

from relier.procinfo import is_gone
from relier.testing import RedisServer, stop_process, wait_until
from tests.conftest import start_worker
from tests.support import FAST_LEASES, KEYS, executions, running_pid, start_resurrector


def _state(client: redis.Redis, task_id: str) -> str:
    return (client.hget(KEYS.record(task_id), "state") or b"").decode()


def test_revoke_before_start_survives_a_worker_start(
    basic_tasks: ModuleType, redis_server: RedisServer, redis_client: redis.Redis, tmp_path: Path,
) -> None:
    revoked = basic_tasks.add.apply_async((1, 2), queue="revoke-early")
    kept = basic_tasks.add.apply_async((3, 4), queue="revoke-early")
    revoked.revoke()  # Celery's own call; no worker is listening yet
    assert revoked.state == states.REVOKED
    assert _state(redis_client, revoked.id) == "cancelled"
    worker = start_worker(redis_server, tmp_path, queues=("revoke-early",)).wait_ready()
    try:
        assert kept.get(timeout=30) == 7
        assert executions(redis_client, revoked.id) == 0
        assert _state(redis_client, revoked.id) == "cancelled"
    finally:
        worker.stop()


def test_terminate_stops_the_body_and_nothing_brings_it_back(
    basic_tasks: ModuleType, redis_server: RedisServer, redis_client: redis.Redis, tmp_path: Path,
) -> None:
    worker = start_worker(redis_server, tmp_path / "w", queues=("default",),
                          env=FAST_LEASES).wait_ready()
    resurrector = start_resurrector(redis_server.url, tmp_path / "resurrector.log")
    try:
        handle = basic_tasks.hold.push(300)
        pid = running_pid(redis_client, handle.id)
        AsyncResult(handle.id, app=basic_tasks.hold.app).revoke(terminate=True)
        wait_until(lambda: is_gone(pid), timeout=30,
                   message="the revoked body's process still runs")
        assert _state(redis_client, handle.id) == "cancelled"
        # a resurrector pass and a lease expiry later, it still has not run again
        wait_until(lambda: redis_client.hget(KEYS.resurrector, "last"), timeout=30)
        started = wait_until(lambda: redis_client.hget(KEYS.resurrector, "last"), timeout=30)
        wait_until(lambda: redis_client.hget(KEYS.resurrector, "last") != started, timeout=30)
        assert executions(redis_client, handle.id) == 1
        assert _state(redis_client, handle.id) == "cancelled"
        types = [fields[b"type"] for _, fields in redis_client.xrange(KEYS.events)
                 if fields.get(b"id") == handle.id.encode()]
        assert b"resurrected" not in types
        assert b"handed_off" not in types
    finally:
        stop_process(resurrector)
        worker.stop()


def test_rl_cancel_and_celery_control_revoke(
    basic_tasks: ModuleType, redis_server: RedisServer, redis_client: redis.Redis,
) -> None:
    first = basic_tasks.add.apply_async((1, 1), queue="revoke-cli")
    second = basic_tasks.add.apply_async((2, 2), queue="revoke-cli")
    env = {**os.environ, "RELIER_REDIS_URL": redis_server.url}
    cancelled = subprocess.run([sys.executable, "-m", "relier.cli", "cancel", first.id],
                               capture_output=True, text=True, timeout=60, env=env, check=False)
    assert cancelled.returncode == 0, cancelled.stderr
    assert cancelled.stdout.strip() == f"{first.id}: cancelled"
    again = subprocess.run([sys.executable, "-m", "relier.cli", "cancel", first.id],
                           capture_output=True, text=True, timeout=60, env=env, check=False)
    assert again.returncode == 1
    assert again.stdout.strip() == f"{first.id}: done"
    celery = subprocess.run([sys.executable, "-m", "celery", "-A", "relier.tasks.app", "control",
                             "revoke", second.id], capture_output=True, text=True, timeout=60,
                            env=env, check=False)
    assert celery.returncode in (0, 69), celery.stderr  # 69: no worker replied, which is fine
    assert _state(redis_client, second.id) == "cancelled"
