"""``rl run-resurrector``: re-queue the tasks of dead worker processes."""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import threading
from types import FrameType

import click

from relier import preflight, telemetry
from relier.binding import Relier
from relier.cli.doctor import load_app
from relier.cli.output import echo, echo_json
from relier.consumers import ForeignCheck
from relier.display import redact_url
from relier.phoenix import Resurrector


@click.command("run-resurrector", short_help="Re-queue the tasks of dead workers, until stopped.")
@click.option("--app", "app_spec", default="relier.tasks:app", show_default=True,
              help="Celery app whose Relier binding to use, as module:attribute.")
@click.option("--once", is_flag=True, help="Run a single pass and exit.")
@click.option("--json", "as_json", is_flag=True, help="With --once: print the pass as JSON.")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]),
              default="info", show_default=True, help="Least severe log level written.")
def run_resurrector(app_spec: str, once: bool, as_json: bool, log_level: str) -> int:
    """Find expired worker leases and re-queue (or dead-letter) their tasks, until stopped.

    Examples:

    \b
      rl run-resurrector --app myproject.celery:app
      rl run-resurrector --once --json
    """
    logging.basicConfig(level=log_level.upper(),
                        format="[%(asctime)s %(levelname)s %(name)s] %(message)s")
    relier = Relier.of(load_app(app_spec))
    checks = [*preflight.check_cell(relier.settings), *preflight.check_server(relier.store.client)]
    failures = [check for check in checks if check.is_blocking]
    if failures and not relier.settings.unsafe_skip_preflight:
        echo(preflight.refusal_message(relier.settings.redis_url, failures), err=True)
        return 78
    telemetry.configure()
    resurrector = Resurrector(relier.store, relier.settings,
                              relier.broker_keys.queue_list(relier.settings.default_queue, 0))
    if once:
        result = resurrector.run_pass()
        if as_json:
            echo_json(dataclasses.asdict(result))
        else:
            echo(f"processes expired {result.processes}, re-queued {result.requeued}, "
                 f"dead-lettered {result.dead_lettered}, promoted {result.promoted}, "
                 f"reconciled {result.reconciled}, dead workers forgotten "
                 f"{result.workers_pruned}, quiet {result.quiet}")
        return 0
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    logging.getLogger("relier.resurrector").info(
        "resurrector started against %s", redact_url(relier.settings.redis_url))
    check = ForeignCheck(relier.app, relier.store, f"resurrector/{os.getpid()}")
    check.start()
    resurrector.run_forever(stop)
    check.stop()
    return 0
