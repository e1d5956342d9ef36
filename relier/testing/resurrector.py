"""``rl run-resurrector`` as a real process, for tests, benchmarks, chaos scenarios and `rl demo`."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

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
