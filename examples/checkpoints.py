"""Checkpoints: a long import that resumes where an earlier attempt stopped.

An attempt ends early when its process dies (the task is resurrected), when its worker shuts
down (handed off), or when it is released from the dead letters. The next attempt reads the
last checkpoint as `ctx.partial`.

    celery -A relier.tasks.app worker -l info -Q imports --include=checkpoints
"""

from __future__ import annotations

import time

from relier import TaskContext, current_context, rl_task

ROWS_PER_CHECKPOINT = 10

#: Rows done by the attempt running in this process, for the soft-timeout hook.
_rows_done: dict[str, int] = {}


def save_progress(ctx: TaskContext) -> None:
    """The soft-timeout hook. It runs beside the body at `soft_timeout`, and when a worker
    shuts down before handing the task off, so it saves progress made since the last checkpoint."""
    if ctx.task_id in _rows_done:
        ctx.set_partial(_rows_done[ctx.task_id])


@rl_task(name="imports.import_rows", queue="imports", soft_timeout=300, hard_timeout=360,
         on_soft_timeout=save_progress)
def import_rows(total: int) -> dict[str, int]:
    ctx = current_context()
    first = ctx.partial or 0  # None on the first attempt
    for row in range(first, total):
        import_row(row)
        _rows_done[ctx.task_id] = row + 1
        if (row + 1) % ROWS_PER_CHECKPOINT == 0:
            ctx.set_partial(row + 1)  # fenced: raises FencedOffError in a stale attempt
    _rows_done.pop(ctx.task_id, None)
    return {"imported": total - first, "resumed_at": first, "attempt": ctx.attempt}


def import_row(row: int) -> None:
    time.sleep(0.02)  # stands in for parsing and storing one row
