"""``rl cancel``: revoke a task, persistently (Celery's ``revoke``, made durable)."""

from __future__ import annotations

import click

from relier.binding import Relier
from relier.cli.doctor import load_app
from relier.cli.output import echo


@click.command("cancel", short_help="Cancel a task for good (a durable revoke).")
@click.argument("task_id")
@click.option("--terminate", is_flag=True,
              help="Also stop the body if it is running (its pool process is signalled).")
@click.option("--app", "app_spec", default="relier.tasks:app", show_default=True,
              help="Celery app whose Relier binding to use, as module:attribute.")
def cancel_command(task_id: str, terminate: bool, app_spec: str) -> int:
    """Cancel a task that has not ended: it never runs again, whatever restarts (state
    `cancelled`; Celery reads `REVOKED`). The same as `AsyncResult(id).revoke()` or `celery
    control revoke` on a relier task. Prints `ID: cancelled` and exits 0, or `done` (it had
    already ended) / `missing` and exits 1.

    Examples:

    \b
      rl cancel 3f2c9a1e-...
      rl cancel 3f2c9a1e-... --terminate
    """
    outcome = Relier.of(load_app(app_spec)).cancel(task_id, terminate=terminate)
    echo(f"{task_id}: {outcome}")
    return 0 if outcome == "cancelled" else 1
