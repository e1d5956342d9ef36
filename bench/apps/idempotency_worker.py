"""Worker entry point for ``python -m bench idempotency``: ``celery -A idempotency_worker.app``."""

from __future__ import annotations

import os

from bench.apps.idempotency_tasks import make_app

bound = make_app(os.environ["RELIER_REDIS_URL"], set_as_current=True)
app = bound.app
