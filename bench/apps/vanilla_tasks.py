"""Plain Celery (no relier): the baseline arms of ``python -m bench`` recovery, shutdown and the
footprint benchmarks (``bench.vanilla_noop``).

Configured from the environment: ``BENCH_BROKER_URL``, ``BENCH_ACKS_LATE=1`` for
``task_acks_late=True`` with ``task_reject_on_worker_lost=True`` (else Celery's defaults), and
``BENCH_RESULT_BACKEND`` for a result backend (else none, Celery's default).
"""

from __future__ import annotations

import os
import time
from typing import Any

from celery import Celery

from bench.apps.counting import client, counted_work, record_attempt

BROKER_URL = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:1/0")
ACKS_LATE = os.environ.get("BENCH_ACKS_LATE") == "1"
RESULT_BACKEND = os.environ.get("BENCH_RESULT_BACKEND") or None

app = Celery("bench-vanilla", broker=BROKER_URL, backend=RESULT_BACKEND)
app.conf.update(broker_connection_retry_on_startup=True, task_default_queue="default")
if ACKS_LATE:
    app.conf.update(task_acks_late=True, task_reject_on_worker_lost=True)


def _work(self: Any, arm: str, seconds: float) -> None:
    """Same body as ``bench.recovery_work``."""
    counted_work(arm, self.request.id, seconds)


work = app.task(name="bench.vanilla_work", bind=True)(_work)


def _hold(self: Any, seconds: float) -> int:
    """As ``bench.recovery_hold``: attempt 1 records (pid, start) and sleeps, later ones return.

    Celery has no attempt number for a redelivered message, so the body counts its starts.
    """
    started = time.time()
    attempt = int(client().incr(f"bench:attempts:{self.request.id}"))
    record_attempt(self.request.id, attempt, started)
    if attempt == 1:
        time.sleep(seconds)
    return attempt


hold = app.task(name="bench.vanilla_hold", bind=True)(_hold)


def _noop() -> None:
    """Same body as ``bench.relier_noop`` (``noop_tasks``): nothing."""


noop = app.task(name="bench.vanilla_noop")(_noop)
