"""Processes the worker-based benchmarks start: celery workers on ``bench/apps`` and the
resurrector."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from relier.procinfo import children
from relier.testing import CeleryWorker, start_resurrector, stop_process

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


def vanilla_worker(arm: str, url: str, log_path: Path, *, concurrency: int,
                   result_backend: str | None = None, pool: str = "prefork") -> CeleryWorker:
    """A plain Celery worker (``vanilla_tasks.app``, `pool`), acks late for
    ``vanilla-acks-late``, storing results in `result_backend` when given (else no result
    backend)."""
    env = {"BENCH_BROKER_URL": url,
           "BENCH_ACKS_LATE": "1" if arm == "vanilla-acks-late" else "0",
           "BENCH_RESULT_BACKEND": result_backend or ""}
    return bench_worker("vanilla_tasks.app", url, log_path, concurrency=concurrency, pool=pool,
                        env=env)


@contextlib.contextmanager
def resurrector(url: str, log_path: Path,
                env: Mapping[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    """``rl run-resurrector`` on `url` with `env`, terminated (then killed) on exit."""
    process = start_resurrector(url, log_path, env)
    try:
        yield process
    finally:
        stop_process(process)


def stop_worker(worker: CeleryWorker) -> None:
    """SIGKILL a worker's process group, then any pool process that leads its own group."""
    if worker.process is None:
        return
    pool = children(worker.pid) if worker.process.poll() is None else []
    worker.kill()
    for pid in pool:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
