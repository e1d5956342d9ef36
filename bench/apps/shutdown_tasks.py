"""relier task for ``python -m bench shutdown``, on an app built per server by `make_app`.

The body has the same shape as ``vanilla_tasks.work`` (count the body start, sleep, count the
completion), in 50 ms steps so that relier's ``on_soft_timeout`` hook can checkpoint the step
reached when SIGTERM hands the task off; the next attempt resumes from it. Workers load
``shutdown_worker.app``, built from ``RELIER_REDIS_URL``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from celery import Celery

from bench.apps.common import relier_app
from bench.apps.counting import begin_work, client, finish_work
from relier import Relier, current_context
from relier.context import TaskContext
from relier.task import RelierTask

STEP_S = 0.05
#: Step reached per task id in this pool process, read by the checkpoint hook.
PROGRESS: dict[str, int] = {}


def _checkpoint(ctx: TaskContext) -> None:
    ctx.set_partial({"step": PROGRESS.get(ctx.task_id, 0)})


def _work(arm: str, seconds: float) -> int:
    """Count the body start, sleep `seconds` in steps from the checkpoint, count completion."""
    ctx = current_context()
    begin_work(arm, ctx.task_id)
    start = int((ctx.partial or {}).get("step", 0))
    if start:
        client().incr(f"bench:resumed:{arm}")
    for step in range(start, round(seconds / STEP_S)):
        PROGRESS[ctx.task_id] = step
        time.sleep(STEP_S)
    finish_work(arm, ctx.task_id)
    return start


@dataclass(frozen=True, slots=True)
class ShutdownApp:
    app: Celery
    relier: Relier
    work: RelierTask


def make_app(url: str, *, set_as_current: bool = False) -> ShutdownApp:
    """A Celery app on `url` with relier bound and the checkpointing bench task."""
    app, relier = relier_app("bench-shutdown", url, set_as_current=set_as_current)
    work = relier.task(name="bench.shutdown_work", soft_timeout=3600,
                       on_soft_timeout=_checkpoint)(_work)
    return ShutdownApp(app=app, relier=relier, work=work)
