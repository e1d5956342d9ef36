"""A Celery app without relier on the same Redis: a stock worker that must not consume a
relier queue (it would drop relier messages)."""

from __future__ import annotations

import os

from celery import Celery

app = Celery("stock", broker=os.environ["RELIER_REDIS_URL"], set_as_current=False)


@app.task(name="stock.ping")
def ping() -> str:
    return "pong"
