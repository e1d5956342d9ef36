"""Processes the worker-based benchmarks start: celery workers on ``bench/apps`` and the
resurrector."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from bench.procfs import children
from relier.testing import CeleryWorker

#: The task modules workers load (put on their PYTHONPATH).
APPS_DIR = Path(__file__).parent / "apps"
#: The checkout, so workers can import ``bench.apps.*``.
ROOT = Path(__file__).resolve().parent.parent
#: The arms compared under kills and SIGTERM: relier, and vanilla Celery two ways.
ARMS = ("relier", "vanilla-defaults", "vanilla-acks-late")


def bench_worker(app: str, url: str, log_path: Path, *, concurrency: int,
                 pool: str = "prefork", env: Mapping[str, str] | None = None,
                 include: Iterable[str] = ()) -> CeleryWorker:
    """A (not yet started) worker loading `app` from ``bench/apps``."""
    return CeleryWorker(app, redis_url=url, log_path=log_path, pool=pool,
                        concurrency=concurrency, env=env, include=include,
                        pythonpath=[str(APPS_DIR), str(ROOT)])


def vanilla_worker(arm: str, url: str, log_path: Path, *, concurrency: int) -> CeleryWorker:
    """A plain Celery worker (``vanilla_tasks.app``), acks late for ``vanilla-acks-late``."""
    env = {"BENCH_BROKER_URL": url,
           "BENCH_ACKS_LATE": "1" if arm == "vanilla-acks-late" else "0"}
    return bench_worker("vanilla_tasks.app", url, log_path, concurrency=concurrency, env=env)


@contextlib.contextmanager
def resurrector(url: str, log_path: Path,
                env: Mapping[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    """``rl run-resurrector`` on `url` with `env`, terminated (then killed) on exit."""
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "relier.cli", "run-resurrector", "--log-level", "warning"],
            env={**os.environ, **env, "RELIER_REDIS_URL": url},
            stdout=log, stderr=subprocess.STDOUT,
        )
        try:
            yield process
        finally:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


def parent_pid(pid: int) -> int:
    """The parent of a pool process: its worker's main process (pool processes lead their own
    process groups, so the group id no longer names the worker)."""
    with open(f"/proc/{pid}/stat") as stat:
        return int(stat.read().rsplit(")", 1)[1].split()[1])


def stop_worker(worker: CeleryWorker) -> None:
    """SIGKILL a worker's process group, then any pool process that leads its own group."""
    if worker.process is None:
        return
    pool = children(worker.pid) if worker.process.poll() is None else []
    worker.kill()
    for pid in pool:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
