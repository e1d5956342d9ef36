"""Plain Celery (no relier) for ``python -m bench recovery``'s baseline arms.

Configured from the environment: ``BENCH_BROKER_URL`` and ``BENCH_ACKS_LATE=1`` for
``task_acks_late=True`` with ``task_reject_on_worker_lost=True`` (else Celery's defaults).
"""

from __future__ import annotations

import os
from typing import Any

from celery import Celery

from bench.apps.common import counted_work

BROKER_URL = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:1/0")
ACKS_LATE = os.environ.get("BENCH_ACKS_LATE") == "1"

app = Celery("bench-vanilla", broker=BROKER_URL)
app.conf.update(broker_connection_retry_on_startup=True, task_default_queue="default")
if ACKS_LATE:
    app.conf.update(task_acks_late=True, task_reject_on_worker_lost=True)


def _work(self: Any, arm: str, seconds: float) -> None:
    """Same body as ``bench.recovery_work``."""
    counted_work(arm, self.request.id, seconds)


work = app.task(name="bench.vanilla_work", bind=True)(_work)
