"""Worker entry point for the footprint benchmarks: ``celery -A noop_worker.app worker``."""

from __future__ import annotations

import os

from bench.apps.noop_tasks import make_app

bound = make_app(os.environ["RELIER_REDIS_URL"], set_as_current=True,
                 result_backend=os.environ.get("BENCH_RESULT_BACKEND") or None)
app = bound.app
