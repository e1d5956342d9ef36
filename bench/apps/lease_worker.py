"""Worker entry point for ``python -m bench leases``: ``celery -A lease_worker.app worker``."""

from __future__ import annotations

import os

from bench.apps.lease_tasks import make_app

bound = make_app(os.environ["RELIER_REDIS_URL"], set_as_current=True)
app = bound.app
