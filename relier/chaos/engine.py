"""The chaos engine: a scenario seeds probe tasks, injects a fault into real processes, and
returns a verdict with numbers. Progress is reported as events (for `rl chaos --watch` and the
console), not only printed.

Scenarios run against the Redis at RELIER_REDIS_URL with a `LocalCluster`: worker processes
(and a resurrector) this engine starts on this machine, so it can kill, pause and replace them.
Processes it did not start are never touched; a verdict says so when that matters.
"""

from __future__ import annotations

import random
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from relier.binding import Relier
from relier.chaos.probes import marks_key
from relier.devserver import RedisServer
from relier.eventstream import EventStream
from relier.stats import summarize
from relier.testing import FAST_LEASES, CeleryWorker, start_resurrector, stop_process, wait_ticking

ProgressCallback = Callable[[str, dict[str, Any]], None]
CHAOS_QUEUES = ("chaos",)


class ScenarioUnavailableError(Exception):
    """The scenario cannot run against this cluster; the message says why and what would work."""


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


class LocalCluster:
    """Workers and a resurrector started by the engine, in its own log folder."""

    def __init__(self, relier: Relier, log_dir: Path, *, app: str = "relier.tasks.app",
                 env: dict[str, str] | None = None) -> None:
        self.relier = relier
        self.log_dir = log_dir
        self.app = app
        self.env = {**FAST_LEASES, **(env or {})}
        self.workers: list[CeleryWorker] = []
        self._resurrector: subprocess.Popen[bytes] | None = None

    def start_worker(self, concurrency: int = 2, *, redis_url: str | None = None,
                     env: dict[str, str] | None = None, ready: bool = True) -> CeleryWorker:
        """Start a worker on the chaos queue; `redis_url` (e.g. through a fault proxy) and `env`
        override the cluster's. `ready=False` returns without waiting for it to serve."""
        index = len(self.workers)
        worker = CeleryWorker(self.app, redis_url=redis_url or self.relier.settings.redis_url,
                              log_path=self.log_dir / f"worker{index}.log", queues=CHAOS_QUEUES,
                              concurrency=concurrency, env={**self.env, **(env or {})},
                              pythonpath=[p for p in sys.path if p]).start()
        if ready:
            worker.wait_ready()
        self.workers.append(worker)
        if self._resurrector is None:
            self.start_resurrector()
        return worker

    def start_resurrector(self, env: dict[str, str] | None = None) -> None:
        """Start a resurrector and wait for its first pass: a scenario that then cuts Redis off
        must find it running, not still starting (it refuses to start without Redis)."""
        log = self.log_dir / "resurrector.log"
        self._resurrector = start_resurrector(self.relier.settings.redis_url, log,
                                              {**self.env, **(env or {})})
        wait_ticking(self._resurrector, self.relier.store.client, self.relier.store.keys.resurrector,
                     log)

    @property
    def resurrector_pid(self) -> int | None:
        return None if self._resurrector is None else int(self._resurrector.pid)

    def resurrector_alive(self) -> bool:
        return self._resurrector is not None and self._resurrector.poll() is None

    def kill_resurrector(self) -> None:
        if self._resurrector is not None:
            self._resurrector.kill()
            self._resurrector.wait(10)
            self._resurrector = None

    def stop(self) -> None:
        for worker in self.workers:
            worker.kill()
        if self._resurrector is not None:
            stop_process(self._resurrector)


@dataclass
class ChaosContext:
    """What a scenario works with. `server` is set only when the engine owns the Redis server
    (the chaos suite, `rl chaos --own-server`): only then can a scenario kill and restart it."""

    relier: Relier
    cluster: LocalCluster
    report: ProgressCallback
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    server: RedisServer | None = None
    seed: int | None = None
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def marks(self, which: str) -> dict[str, dict[int, float]]:
        """task id -> attempt -> time, for 'started' or 'completed' probe marks."""
        raw = cast(dict[bytes, bytes], self.relier.store.client.hgetall(
            marks_key(self.relier, self.run_id, which)))
        marks: dict[str, dict[int, float]] = {}
        for key, value in raw.items():
            task_id, attempt = key.decode().rsplit("|", 1)
            marks.setdefault(task_id, {})[int(attempt)] = float(value)
        return marks

    def tally(self) -> dict[str, int]:
        """This run's probe attempts started and tasks completed so far (for `--watch`)."""
        started, completed = self.marks("started"), self.marks("completed")
        return {"attempts_started": sum(len(attempts) for attempts in started.values()),
                "tasks_started": len(started), "tasks_completed": len(completed)}

    def probe(self, name: str) -> Any:
        """The probe task `relier.chaos.<name>`."""
        return self.relier.tasks[f"relier.chaos.{name}"]

    def states(self, ids: list[str]) -> list[str]:
        """Each task's record state, 'missing' when it has no record."""
        pipe = self.relier.store.client.pipeline(transaction=False)
        for task_id in ids:
            pipe.hget(self.relier.keys.record(task_id), "state")
        return [(raw or b"missing").decode() for raw in pipe.execute()]

    def completions(self, ids: list[str]) -> tuple[list[str], list[str]]:
        """(ids whose fenced completion mark landed more than once, ids not `completed`)."""
        marks = self.marks("completed")
        doubled = [task_id for task_id in ids if len(marks.get(task_id, {})) > 1]
        states = self.states(ids)
        missing = [task_id for task_id, state in zip(ids, states, strict=True) if state != "completed"]
        return doubled, missing

    def count_events(self, event_type: str, ids: list[str], *, last: int = 50000) -> int:
        """How many of the stream's last `last` events are `event_type` for one of `ids`."""
        wanted = set(ids)
        events = EventStream.of(self.relier.store).latest(last, event_type=event_type)
        return sum(1 for event in events if event.get("id") in wanted)

    def wait(self, condition: Callable[[], bool], seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while not condition():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
        return True


def latency_numbers(samples: list[float]) -> dict[str, float | None]:
    """Recovery p50, p99 and mean in seconds (None without samples), for a verdict's numbers."""
    if not samples:
        return {"recovery_p50_s": None, "recovery_p99_s": None, "recovery_mean_s": None}
    summary = summarize(samples)
    return {"recovery_p50_s": summary.p50, "recovery_p99_s": summary.p99,
            "recovery_mean_s": summary.mean}
