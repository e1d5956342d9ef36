"""``rl tui``: open the operations console (`relier_tui`, loaded by `relier.cli.console`)."""

from __future__ import annotations

import click

from relier.binding import Relier
from relier.cli import console
from relier.cli.doctor import load_app


@click.command(short_help="Open the operations console.")
@click.option("--app", "app_spec", default="relier.tasks:app", show_default=True,
              help="Celery app whose Relier binding to use, as module:attribute.")
@click.option("--reconcile", type=click.FloatRange(min=0.5), default=5.0, show_default=True,
              help="Seconds between full reloads when keyspace notifications are on.")
@click.option("--poll", type=click.FloatRange(min=0.2), default=1.0, show_default=True,
              help="Seconds between reloads when keyspace notifications are off.")
def tui(app_spec: str, reconcile: float, poll: float) -> int:
    """Open the console: inflight tasks, workers, events, dead letters, chaos, dispatch, limits.

    Examples:

    \b
      rl tui
      rl tui --app myproject.celery:app --reconcile 10
    """
    relier = Relier.of(load_app(app_spec))
    app = console.load()  # the only way relier reaches textual: workers never load it
    app.RelierConsole(relier, reconcile_interval=reconcile, poll_interval=poll).run()
    return 0
