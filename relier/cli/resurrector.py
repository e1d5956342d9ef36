"""``rl run-resurrector``: re-queue the tasks of dead worker processes."""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import threading
from types import FrameType

import click
import redis

from relier import preflight, telemetry
from relier.binding import Relier
from relier.cli.doctor import load_app
from relier.cli.output import echo, echo_json
from relier.consumers import ForeignCheck
from relier.display import redact_url
from relier.phoenix import Resurrector
from relier.runtime import Runtime


@click.command("run-resurrector", short_help="Re-queue the tasks of dead workers, until stopped.")
@click.option("--app", "app_spec", default="relier.tasks:app", show_default=True,
              help="Celery app whose Relier binding to use, as module:attribute.")
@click.option("--once", is_flag=True, help="Run a single pass and exit.")
@click.option("--json", "as_json", is_flag=True, help="With --once: print the pass as JSON.")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]),
              default="info", show_default=True, help="Least severe log level written.")
@click.option("--cell", "cell", metavar="NAME",
              help="With RELIER_CELLS: serve this cell (the same as RELIER_CELL=NAME).")
@click.option("--all-cells", is_flag=True,
              help="With RELIER_CELLS: serve every cell from this process, a thread per cell.")
def run_resurrector(app_spec: str, once: bool, as_json: bool, log_level: str,  # noqa: PLR0917 - click passes options by name
                    cell: str | None, all_cells: bool) -> int:
    """Find expired worker leases and re-queue (or dead-letter) their tasks, until stopped.

    With RELIER_CELLS a resurrector serves one cell (RELIER_CELL, or --cell) or, with
    --all-cells, every cell, each in its own thread: a cell that is down is retried with
    backoff while the others are served. --once --all-cells prints a line per cell and exits
    1 when some cell did not answer.

    Examples:

    \b
      rl run-resurrector --app myproject.celery:app
      rl run-resurrector --once --json
      rl run-resurrector --cell east
      rl run-resurrector --all-cells
    """
    logging.basicConfig(level=log_level.upper(),
                        format="[%(asctime)s %(levelname)s %(name)s] %(message)s")
    relier = Relier.of(load_app(app_spec))
    runtimes = _served(relier, cell, all_cells)
    for runtime in runtimes:
        serving = (dataclasses.replace(runtime.settings, cell=runtime.cell)  # --cell: its own
                   if cell or all_cells else runtime.settings)
        checks = [*preflight.check_cell(serving), *preflight.check_server(runtime.store.client)]
        if all_cells and any(c.name == "reachable" and c.is_blocking for c in checks):
            _log.warning("cell %s: unreachable; serving the others, retrying it", runtime.cell)
            checks = []  # its thread backs off until it answers (--once: reported below)
        failures = [check for check in checks if check.is_blocking]
        if failures and not relier.settings.unsafe_skip_preflight:
            echo(preflight.refusal_message(runtime.settings.redis_url, failures), err=True)
            return 78
    telemetry.configure()
    if once:
        return _once(runtimes, as_json=as_json, labelled=all_cells)
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    threads = [threading.Thread(target=_serve, args=(relier, runtime, stop),
                                name=f"relier-resurrector-{runtime.cell or 'main'}")
               for runtime in runtimes]
    for thread in threads:
        thread.start()
    while any(thread.is_alive() for thread in threads):
        stop.wait(0.5)  # signals reach the main thread only while it runs Python code
    for thread in threads:
        thread.join()
    return 0


_log = logging.getLogger("relier.resurrector")
UNREACHABLE = (redis.ConnectionError, redis.TimeoutError)


def _served(relier: Relier, cell: str | None, all_cells: bool) -> list[Runtime]:
    """The runtimes this resurrector serves: the --cell one, every cell, or its own."""
    cells = relier.cells
    if (cell is not None or all_cells) and not cells.is_sharded:
        raise click.UsageError("--cell and --all-cells need RELIER_CELLS")
    if cell is not None and all_cells:
        raise click.UsageError("give --cell or --all-cells, not both")
    if all_cells:
        return [cells.runtime(name) for name in cells.names]
    if cell is not None:
        try:
            cells.selected(cell)
        except ValueError as exc:
            raise click.UsageError(f"--cell: {exc}") from None
        return [cells.runtime(cell)]
    return [relier.runtime]


def _resurrector(runtime: Runtime) -> Resurrector:
    return Resurrector(runtime.store, runtime.settings, runtime.front())


def _once(runtimes: list[Runtime], *, as_json: bool, labelled: bool) -> int:
    status = 0
    for runtime in runtimes:
        try:
            result = _resurrector(runtime).run_pass()
        except UNREACHABLE as exc:
            if not labelled:
                raise
            echo(f"cell {runtime.cell}: unreachable ({type(exc).__name__}: {exc})", err=True)
            status = 1
            continue
        label = f"cell {runtime.cell}: " if labelled else ""
        if as_json:
            echo_json({**dataclasses.asdict(result), **({"cell": runtime.cell} if labelled else {})})
        else:
            echo(f"{label}processes expired {result.processes}, re-queued {result.requeued}, "
                 f"dead-lettered {result.dead_lettered}, promoted {result.promoted}, "
                 f"reconciled {result.reconciled}, dead workers forgotten "
                 f"{result.workers_pruned}, quiet {result.quiet}")
    return status


def _serve(relier: Relier, runtime: Runtime, stop: threading.Event) -> None:
    """One cell's resurrector until `stop` (backing off while its Redis is down)."""
    _log.info("resurrector started against %s", redact_url(runtime.settings.redis_url))
    check = ForeignCheck(relier.app, runtime.store, f"resurrector/{os.getpid()}")
    check.start()
    _resurrector(runtime).run_forever(stop)
    check.stop()
