"""relier tasks for ``python -m bench recovery``, declared on the ready app ``relier.tasks.app``.

Every attempt records in Redis when its body started (``time.time()``) and in which process, so
the benchmark can time a kill against the start of the next attempt.
"""

from __future__ import annotations

import time

from bench.apps.counting import counted_work, record_attempt
from relier import current_context, rl_task


@rl_task(name="bench.recovery_hold")
def hold(seconds: float) -> int:
    """Attempt 1 records (pid, start time) and sleeps; later attempts record and return."""
    started = time.time()
    ctx = current_context()
    record_attempt(ctx.task_id, ctx.attempt, started)
    if ctx.attempt == 1:
        time.sleep(seconds)
    return ctx.attempt


@rl_task(name="bench.recovery_work")
def work(arm: str, seconds: float) -> None:
    """The delivery body: count the execution, sleep, count the completion."""
    counted_work(arm, current_context().task_id, seconds)
