"""How the relier bench task modules build their app (the counters are in `counting`).

Imported inside workers (``bench/apps`` and the checkout are on their PYTHONPATH), and by the
benchmark process when it builds the same app to push with.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from celery import Celery

from relier import Relier
from relier.config import Settings


def relier_app(main: str, url: str, *, set_as_current: bool, cells: Mapping[str, str] | None = None,
               **conf: Any) -> tuple[Celery, Relier]:
    """A Celery app on `url` (default queue relier's) with relier bound, `conf` applied; with
    `cells` (name -> URL, `url` one of them), relier pushes across those cells."""
    settings = Settings.from_env({**os.environ, "RELIER_REDIS_URL": url})
    app = Celery(main, set_as_current=set_as_current)
    app.conf.update(
        broker_url=url,
        broker_connection_retry_on_startup=True,
        task_default_queue=settings.default_queue,
        **conf,
    )
    return app, Relier(app, settings=settings, cells=cells)
