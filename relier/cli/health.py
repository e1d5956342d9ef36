"""``rl health``: a liveness probe for worker containers that never asks Redis."""

from __future__ import annotations

import time
from pathlib import Path

import click

from relier.config import get_settings


@click.command(short_help="Worker liveness probe from its health file.")
@click.option("--file", "path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The worker's health file (default: RELIER_HEALTH_FILE).")
@click.option("--max-age", type=click.FloatRange(min=0, min_open=True), default=30.0, show_default=True,
              help="Seconds since the worker last touched the file before it counts as stuck.")
def health(path: Path | None, max_age: float) -> int:
    """Exit 0 if the worker's lease thread touched its health file recently, else 1.

    The file is touched whether or not Redis answers, so a Redis outage never fails this
    probe: only a worker whose main process is stuck or gone does.

    Example (a Kubernetes liveness probe's command):

    \b
      rl health --file /tmp/relier-health --max-age 30
    """
    target = path or (Path(get_settings().health_file) if get_settings().health_file else None)
    if target is None:
        raise click.UsageError("no health file: pass --file or set RELIER_HEALTH_FILE on the worker")
    try:
        age = time.time() - target.stat().st_mtime
    except FileNotFoundError:
        click.echo(f"unhealthy: {target} does not exist (worker not started, or RELIER_HEALTH_FILE unset)")
        return 1
    if age > max_age:
        click.echo(f"unhealthy: {target} last touched {age:.1f} s ago (limit {max_age:g} s)")
        return 1
    click.echo(f"healthy: {target} touched {age:.1f} s ago")
    return 0
