"""Worker entry point for ``python -m bench shutdown``: ``celery -A shutdown_worker.app``."""

from __future__ import annotations

import os

from bench.apps.shutdown_tasks import make_app

bound = make_app(os.environ["RELIER_REDIS_URL"], set_as_current=True)
app = bound.app
