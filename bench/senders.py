"""Celery apps the benchmark process sends tasks with (nothing consumes from them here)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from celery import Celery

from relier.binding import Relier
from relier.config import Settings


def sending_app(main: str, url: str, **conf: Any) -> Celery:
    """A Celery app with its broker on `url`, not the current app, `conf` applied."""
    app = Celery(main, broker=url, set_as_current=False)
    app.conf.update(broker_connection_retry_on_startup=True, **conf)
    return app


def bench_settings(url: str) -> Settings:
    """This process's settings (``RELIER_ENV=test`` unless set, see `bench`), the store on `url`."""
    return Settings.from_env({**os.environ, "RELIER_REDIS_URL": url})


def bind_relier(app: Celery, url: str, **options: Any) -> Relier:
    """relier bound to `app`, its store on `url` whatever the environment says."""
    return Relier(app, settings=bench_settings(url), **options)


def vanilla_pusher(arm: str, url: str, seconds: float) -> Callable[[], str]:
    """Sends one ``bench.vanilla_work(arm, seconds)`` per call; returns its task id."""
    sender = sending_app(f"bench-{arm}", url)
    return lambda: str(
        sender.send_task("bench.vanilla_work", args=[arm, seconds], queue="default").id)
