"""``rl run-resurrector`` as a real process, for tests, benchmarks, chaos scenarios and `rl demo`."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import redis

from relier.devserver import wait_until

#: Short leases (2 s, refreshed every 0.5 s, the resurrector looking every 0.2 s), so that the
#: death of a worker is noticed and its tasks re-queued within seconds.
FAST_LEASES = {"RELIER_LEASE_TTL": "2", "RELIER_LEASE_REFRESH_INTERVAL": "0.5",
               "RELIER_RESURRECTOR_INTERVAL": "0.2"}


def start_resurrector(redis_url: str, log_path: Path, env: Mapping[str, str] | None = None, *,
                      log_level: str = "warning") -> subprocess.Popen[bytes]:
    """Start ``rl run-resurrector`` against `redis_url` with this environment plus `env`,
    appending its output to `log_path`; the caller stops it (`stop_process`)."""
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "relier.cli", "run-resurrector", "--log-level", log_level],
            env={**os.environ, **(env or {}), "RELIER_REDIS_URL": redis_url},
            stdout=log, stderr=subprocess.STDOUT,
        )


def wait_ticking(process: subprocess.Popen[bytes], client: redis.Redis, reaper_key: str,
                 log_path: Path, *, timeout: float = 60.0) -> None:
    """Wait until the resurrector `process` has made a pass (its tick at `reaper_key` is newer
    than this call, on the server's clock): started, past its preflight, talking to Redis.
    Raises `RuntimeError` with its log if it exited first."""
    seconds, micros = client.time()
    since_ms = seconds * 1000 + micros // 1000

    def ticked() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"the resurrector exited with status {process.returncode}: "
                               f"{Path(log_path).read_text(errors='replace')[-2000:]}")
        last = client.hget(reaper_key, "last")
        return last is not None and int(last) >= since_ms

    wait_until(ticked, timeout=timeout, message="the resurrector made no pass")
