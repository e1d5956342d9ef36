"""Fenced writes: a stale attempt (a paused or partitioned worker whose task was taken over)
can never overwrite what a newer attempt of the same task wrote.

The storage here is SQLite (EXAMPLE_DB); the upsert works the same on PostgreSQL.
"""

from __future__ import annotations

import os
import sqlite3

from relier import FencedOffError, current_context, rl_task

SCHEMA = """
CREATE TABLE IF NOT EXISTS reports (
    report_id TEXT PRIMARY KEY, body TEXT NOT NULL, task_id TEXT NOT NULL, fence INTEGER NOT NULL
)
"""

# A write from another task always lands; one from the same task needs a fence at least as
# new as the stored one. Fences order the attempts of one task, not different tasks.
FENCED_UPSERT = """
INSERT INTO reports (report_id, body, task_id, fence) VALUES (?, ?, ?, ?)
ON CONFLICT (report_id) DO UPDATE
SET body = excluded.body, task_id = excluded.task_id, fence = excluded.fence
WHERE reports.task_id != excluded.task_id OR reports.fence <= excluded.fence
"""


def save_report(report_id: str, body: str, *, task_id: str, fence: int) -> bool:
    """Whether the write landed (False: a newer attempt of this task wrote already)."""
    db = sqlite3.connect(os.environ.get("EXAMPLE_DB", "example.sqlite3"), timeout=30)
    try:
        with db:
            db.execute(SCHEMA)
            return db.execute(FENCED_UPSERT, (report_id, body, task_id, fence)).rowcount == 1
    finally:
        db.close()


@rl_task(name="reports.publish_report")
def publish_report(report_id: str, body: str) -> int:
    ctx = current_context()
    if not save_report(report_id, body, task_id=ctx.task_id, fence=ctx.fence):
        raise FencedOffError(f"{ctx.task_id}: attempt {ctx.attempt} was taken over")
    return ctx.fence
