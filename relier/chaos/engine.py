"""The chaos engine: a scenario seeds probe tasks, injects a fault into real processes, and
returns a verdict with numbers. Progress is reported as events (for `rl chaos --watch` and the
console), not only printed.

Scenarios run against the Redis at RELIER_REDIS_URL with a `LocalCluster`: worker processes
(and a resurrector) this engine starts on this machine, so it can kill, pause and replace them.
Processes it did not start are never touched; a verdict says so when that matters.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from relier.binding import Relier
from relier.chaos.probes import marks_key
from relier.testing import CeleryWorker

ProgressCallback = Callable[[str, dict[str, Any]], None]
CHAOS_QUEUES = ("chaos",)


@dataclass
class Verdict:
    """What a scenario proved: `held` is the guarantee; numbers say how it went."""

    scenario: str
    held: bool
    numbers: dict[str, Any] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"scenario": self.scenario, "held": self.held, "numbers": self.numbers,
                "failures": self.failures, "notes": self.notes}


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class LocalCluster:
    """Workers and a resurrector started by the engine, in its own log folder."""

    def __init__(self, relier: Relier, log_dir: Path, *, app: str = "relier.tasks.app",
                 env: dict[str, str] | None = None) -> None:
        self.relier = relier
        self.log_dir = log_dir
        self.app = app
        self.env = {"RELIER_LEASE_TTL": "2", "RELIER_LEASE_REFRESH_INTERVAL": "0.5",
                    "RELIER_RESURRECTOR_INTERVAL": "0.2", **(env or {})}
        self.workers: list[CeleryWorker] = []
        self._resurrector: Any = None

    def start_worker(self, concurrency: int = 2) -> CeleryWorker:
        index = len(self.workers)
        worker = CeleryWorker(self.app, redis_url=self.relier.settings.redis_url,
                              log_path=self.log_dir / f"worker{index}.log", queues=CHAOS_QUEUES,
                              concurrency=concurrency, env=self.env,
                              pythonpath=[p for p in sys.path if p]).start().wait_ready()
        self.workers.append(worker)
        if self._resurrector is None:
            self.start_resurrector()
        return worker

    def start_resurrector(self, env: dict[str, str] | None = None) -> None:
        import subprocess  # noqa: PLC0415 - only clusters start processes

        log = (self.log_dir / "resurrector.log").open("ab")
        self._resurrector = subprocess.Popen(
            [sys.executable, "-m", "relier.cli", "run-resurrector", "--log-level", "warning"],
            env={**os.environ, **self.env, **(env or {}),
                 "RELIER_REDIS_URL": self.relier.settings.redis_url},
            stdout=log, stderr=subprocess.STDOUT,
        )
        log.close()

    def kill_resurrector(self) -> None:
        if self._resurrector is not None:
            self._resurrector.kill()
            self._resurrector.wait(10)
            self._resurrector = None

    def stop(self) -> None:
        for worker in self.workers:
            worker.kill()
        if self._resurrector is not None:
            self._resurrector.terminate()
            self._resurrector.wait(15)


@dataclass
class ChaosContext:
    relier: Relier
    cluster: LocalCluster
    report: ProgressCallback
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    def marks(self, which: str) -> dict[str, dict[int, float]]:
        """task id -> attempt -> time, for 'started' or 'completed' probe marks."""
        raw = cast(dict[bytes, bytes], self.relier.store.client.hgetall(
            marks_key(self.relier, self.run_id, which)))
        marks: dict[str, dict[int, float]] = {}
        for key, value in raw.items():
            task_id, attempt = key.decode().rsplit("|", 1)
            marks.setdefault(task_id, {})[int(attempt)] = float(value)
        return marks

    def wait(self, condition: Callable[[], bool], seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while not condition():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
        return True


def latency_numbers(samples: list[float]) -> dict[str, float | None]:
    return {"recovery_p50_s": percentile(samples, 0.5), "recovery_p99_s": percentile(samples, 0.99),
            "recovery_mean_s": statistics.fmean(samples) if samples else None}
