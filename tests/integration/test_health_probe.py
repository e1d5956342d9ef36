"""`rl health`: the worker's health file stays fresh while its lease thread runs, even when Redis
is unreachable, and goes stale when the worker is gone."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from relier.chaos.proxy import FaultProxy
from relier.devserver import wait_until
from relier.testing import CeleryWorker, RedisServer
from tests.conftest import APPS_DIR


def _health(path: Path, max_age: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "relier.cli", "health", "--file", str(path),
                           "--max-age", str(max_age)], capture_output=True, text=True, timeout=60,
                          check=False)


def test_health_file_ignores_redis_and_follows_the_worker(redis_server: RedisServer, tmp_path: Path) -> None:
    health_file = tmp_path / "alive"
    proxy = FaultProxy("127.0.0.1", redis_server.port).start()
    worker = CeleryWorker("relier.tasks.app", redis_url=proxy.url_for(redis_server.url),
                          log_path=tmp_path / "worker.log", queues=("health",), concurrency=1,
                          pythonpath=[str(APPS_DIR)],
                          env={"RELIER_HEALTH_FILE": str(health_file),
                               "RELIER_LEASE_REFRESH_INTERVAL": "0.2", "RELIER_LEASE_TTL": "2"})
    try:
        worker.start().wait_ready()
        wait_until(health_file.exists, timeout=30)
        assert _health(health_file, 5).returncode == 0
        proxy.cut()  # Redis unreachable for this worker: the probe must not fail
        touched = health_file.stat().st_mtime
        wait_until(lambda: health_file.stat().st_mtime > touched + 1, timeout=30)
        result = _health(health_file, 5)
        assert result.returncode == 0, result.stdout
        proxy.heal()
        worker.kill()
        # nobody touches the file any more: it ages past the probe's limit
        wait_until(lambda: time.time() - health_file.stat().st_mtime > 1.0, timeout=10)
        result = _health(health_file, 1)
        assert result.returncode == 1
        assert "unhealthy" in result.stdout
    finally:
        worker.kill()
        proxy.stop()


def test_health_without_a_file_is_a_usage_error() -> None:
    result = subprocess.run([sys.executable, "-m", "relier.cli", "health"], capture_output=True,
                            text=True, timeout=60, check=False,
                            env={k: v for k, v in os.environ.items() if k != "RELIER_HEALTH_FILE"})
    assert result.returncode == 2
    assert "RELIER_HEALTH_FILE" in result.stderr
