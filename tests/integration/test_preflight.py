"""Workers refuse to start against a Redis that cannot keep relier's promises."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from relier.binding import EXIT_PREFLIGHT
from relier.testing import RedisServer
from tests.conftest import start_worker


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
