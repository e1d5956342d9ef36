"""Workers refuse to start against a Redis that cannot keep relier's promises."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import redis

from relier.binding import EXIT_PREFLIGHT
from relier.testing import CeleryWorker, RedisServer, wait_until
from tests.conftest import start_worker
from tests.support import KEYS, executions, raw_dead_letter


@pytest.fixture
def unsafe_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis", **request.param).start()
    yield server
    server.stop()


@pytest.mark.parametrize(
    ("unsafe_server", "expected"),
    [
        ({"appendonly": False}, ["appendonly is off", "CONFIG SET appendonly yes"]),
        ({"maxmemory_policy": "allkeys-lru"},
         ["maxmemory-policy is allkeys-lru", "CONFIG SET maxmemory-policy noeviction"]),
    ],
    indirect=["unsafe_server"],
    ids=["appendonly-no", "allkeys-lru"],
)
def test_worker_refuses_unsafe_redis(
    unsafe_server: RedisServer, expected: list[str], tmp_path: Path
) -> None:
    worker = start_worker(unsafe_server, tmp_path)
    try:
        assert worker.wait_exit(timeout=60) == EXIT_PREFLIGHT
    finally:
        worker.kill()
    log = worker.log()
    assert "relier: refusing to start against redis://127.0.0.1:" in log
    for text in expected:
        assert text in log
    assert "Traceback" not in log


@pytest.mark.parametrize("unsafe_server", [{"appendonly": False}], indirect=True)
def test_skip_preflight_starts_with_a_loud_warning(
    unsafe_server: RedisServer, tmp_path: Path
) -> None:
    worker = start_worker(unsafe_server, tmp_path, env={"RELIER_UNSAFE_SKIP_PREFLIGHT": "1"})
    try:
        worker.wait_ready()
    finally:
        worker.stop()
    assert "RELIER_UNSAFE_SKIP_PREFLIGHT=1: starting despite failed checks" in worker.log()


@pytest.mark.parametrize("pool", ["threads", "solo"])
def test_threads_and_solo_pools_start_and_run_tasks(
    pool: str, basic_tasks: ModuleType, redis_server: RedisServer, tmp_path: Path
) -> None:
    worker = start_worker(redis_server, tmp_path, queues=(f"pool-{pool}",), pool=pool).wait_ready()
    try:
        assert basic_tasks.add.push_with((2, 3), queue=f"pool-{pool}").result(timeout=30) == 5
        handle = basic_tasks.echo_async.push_with(("x",), queue=f"pool-{pool}")
        assert handle.result(timeout=30)["echo"] == "x"
    finally:
        worker.stop()


def _refusal(worker: CeleryWorker) -> str:
    try:
        assert worker.wait_exit(timeout=60) == EXIT_PREFLIGHT
    finally:
        worker.kill()
    log = worker.log()
    assert "Traceback" not in log
    return log


def test_production_worker_without_keys_refuses_to_start(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    log = _refusal(start_worker(redis_server, tmp_path, env={"RELIER_ENV": "production"}))
    assert "RELIER_SECRET_KEYS is empty in production" in log
    assert "RELIER_SECRET_KEYS=k1:$(openssl rand -hex 32)" in log


def test_worker_refuses_a_queue_inside_reliers_keys(redis_server: RedisServer, tmp_path: Path) -> None:
    log = _refusal(start_worker(redis_server, tmp_path, queues=("default", "rl:dlq")))
    assert "queue 'rl:dlq' would be the Redis key 'rl:dlq'" in log


def test_worker_names_unknown_and_renamed_settings(redis_server: RedisServer, tmp_path: Path) -> None:
    worker = start_worker(redis_server, tmp_path, queues=("default",),
                          env={"RELIER_REDIS_URLL": "redis://nowhere", "RELIER_HEARTBEAT_TTL": "6"})
    try:
        worker.wait_ready()
    finally:
        worker.stop()
    log = worker.log()
    assert "RELIER_REDIS_URLL is not a relier setting; did you mean RELIER_REDIS_URL?" in log
    assert "RELIER_HEARTBEAT_TTL (relier 0.1.7) is deprecated, read as RELIER_LEASE_TTL" in log


def test_worker_with_its_own_keys_never_accepts_the_development_key(
    basic_tasks: ModuleType, redis_server: RedisServer, redis_client: redis.Redis, tmp_path: Path
) -> None:
    worker = start_worker(redis_server, tmp_path, queues=("dev-key",),
                          env={"RELIER_SECRET_KEYS": "prod:" + "p" * 32}).wait_ready()
    try:
        handle = basic_tasks.add.push_with((1, 2), queue="dev-key")  # this process: the dev key
        entry = wait_until(lambda: raw_dead_letter(redis_client, handle.id), timeout=30)
        assert redis_client.hget(KEYS.record(entry), "reason") == b"unknown_key"
        assert executions(redis_client, handle.id) == 0
    finally:
        worker.stop()
