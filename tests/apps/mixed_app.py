"""A user's app with a Redis result backend, mixing relier tasks and plain Celery tasks in
one canvas."""

from __future__ import annotations

import os

from celery import Celery

from relier import Relier

app = Celery("mixed", broker=os.environ["RELIER_REDIS_URL"],
             backend=os.environ["RELIER_REDIS_URL"], set_as_current=False)
app.conf.task_default_queue = "mixed"
relier = Relier(app)


@relier.task(name="mixed.double")
def double(value: int) -> int:
    return value * 2


@relier.task(name="mixed.total")
def total(values: list[int]) -> int:
    return sum(values)


@app.task(name="mixed.plain_inc")
def plain_inc(value: int) -> int:
    return value + 1


@app.task(name="mixed.plain_total")
def plain_total(values: list[int]) -> int:
    return sum(values)
