"""Console tests drive `RelierConsole` with Textual's pilot against a real Redis and real workers."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from textual.pilot import Pilot

from relier.testing import CeleryWorker, RedisServer
from tests.conftest import start_worker


@pytest.fixture(scope="module")
def console_worker(redis_server: RedisServer,
                   tmp_path_factory: pytest.TempPathFactory) -> Iterator[CeleryWorker]:
    worker = start_worker(redis_server, tmp_path_factory.mktemp("console-worker")).wait_ready()
    yield worker
    worker.stop()


@pytest.fixture(scope="module")
def empty_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A Redis of its own for the module, with nothing in it: the console's numbers are stable."""
    server = RedisServer(Path(tmp_path_factory.mktemp("empty-redis"))).start()
    yield server
    server.stop()


async def until(pilot: Pilot[None], condition: Callable[[], bool], timeout: float = 20.0,
                what: str = "condition") -> None:
    """Let the app run until `condition` holds (bounded)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Local time is UTC for the test: the detail view's clock times are the same everywhere."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()  # the machine's zone again
