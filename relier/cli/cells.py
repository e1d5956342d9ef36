"""``rl cells``: every cell's state, and draining one to remove it (`relier.cell_drain`)."""

from __future__ import annotations

import getpass
import socket
import time

import click

from relier import inspection
from relier.binding import Relier
from relier.cell_drain import (
    DRAIN_RECHECK_SECONDS,
    CellLoad,
    cell_load,
    clear_drain,
    drain_mark,
    mark_draining,
    move_dead_letters,
    note_moved,
)
from relier.cli.cell_reads import UNREACHABLE, CellReads
from relier.cli.doctor import load_app
from relier.cli.output import echo, echo_json
from relier.runtime import Runtime

app_option = click.option("--app", "app_spec", default="relier.tasks:app", show_default=True,
                          help="Celery app whose Relier binding to use, as module:attribute.")
#: Exit status of a drain that timed out (the cell stays drained: run it again to finish).
EXIT_DRAIN_TIMEOUT = 1


def _relier(app_spec: str) -> Relier:
    relier = Relier.of(load_app(app_spec))
    if not relier.cells.is_sharded:
        raise click.UsageError("RELIER_CELLS is not set: there are no cells (one Redis)")
    return relier


def _cell(relier: Relier, name: str) -> Runtime:
    try:
        relier.cells.selected(name)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    return relier.cells.runtime(name)


def _load(runtime: Runtime) -> CellLoad:
    return cell_load(runtime.store, runtime.broker_keys,
                     {*runtime.task_queues.values(), runtime.settings.default_queue})


@click.group(short_help="Cells (RELIER_CELLS): their state; drain one to remove it.")
def cells() -> None:
    """Cells: each one's state, and the drain that removes one from RELIER_CELLS.

    Examples:

    \b
      rl cells list
      rl cells drain west --timeout 30m
      rl cells undrain west
    """


@cells.command("list", short_help="Each cell: reachable, queued, inflight, dead letters, workers.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@app_option
def list_command(as_json: bool, app_spec: str) -> int:
    """Each cell: whether it answers, whether it is draining, what waits in its queues, what
    runs, its dead letters and live workers. Exit 1 when some cell did not answer.

    Example:

    \b
      rl cells list --json
    """
    relier = _relier(app_spec)
    reads = CellReads(relier, None)

    def read(runtime: Runtime) -> dict[str, object]:
        load = _load(runtime)
        mark = drain_mark(runtime.store)
        live = inspection.workers(runtime.store, include_dead=False)
        return {"cell": runtime.cell, "reachable": True, "draining": mark is not None,
                "queued": load.queued, "depth": load.depth, "scheduled": load.scheduled,
                "inflight": load.inflight, "dead_letters": load.dead_letters,
                "workers": len(live), "moved_to": mark.moved_to if mark else ""}

    rows = dict(reads.read(read))
    listed = [rows.get(cell) or {"cell": cell, "reachable": False,
                                 "error": reads.unreachable.get(cell, "")}
              for cell in reads.names]
    if as_json:
        echo_json(listed, indent=2)
        return 1 if reads.unreachable else 0
    echo(f"{'cell':<12} {'state':<12} {'queued':>7} {'depth':>7} {'sched':>6} {'inflight':>8} "
         f"{'dlq':>6} {'workers':>7}")
    for row in listed:
        if not row["reachable"]:
            echo(f"{row['cell']!s:<12} unreachable ({row['error']})")
            continue
        state = "draining" if row["draining"] else "open"
        echo(f"{row['cell']!s:<12} {state:<12} {row['queued']!s:>7} {row['depth']!s:>7} "
             f"{row['scheduled']!s:>6} {row['inflight']!s:>8} {row['dead_letters']!s:>6} "
             f"{row['workers']!s:>7}")
    return 1 if reads.unreachable else 0


@cells.command(short_help="Stop pushes to a cell, wait for it to empty, move its dead letters.")
@click.argument("name")
@click.option("--to", "target", metavar="CELL",
              help="Cell to move the dead letters to (default: the first other open cell).")
@click.option("--timeout", type=click.FloatRange(min=0), default=600.0, show_default=True,
              help="Seconds to wait for queues and inflight tasks to empty.")
@click.option("--interval", type=click.FloatRange(min=0.1), default=2.0, show_default=True,
              help="Seconds between progress lines.")
@app_option
def drain(name: str, target: str | None, timeout: float, interval: float, app_spec: str) -> int:
    """Drain cell NAME so it can be removed from RELIER_CELLS:

    \b
    1. mark it draining: producers place no new task there (a task free
       to move goes to the next cell; one pinned to it: CellDrainingError);
    2. wait until its queues, scheduled and inflight tasks are empty (its
       workers keep running them), printing progress; exit 1 at --timeout
       (it stays drained: run the drain again to go on);
    3. move its dead letters to another cell (same ids, records, history;
       the old record says moved_to), where `rl dlq release` runs them;
    4. print what to do next: remove it from RELIER_CELLS, stop its
       workers and resurrector.

    Examples:

    \b
      rl cells drain west
      rl cells drain west --to east --timeout 1800
    """
    relier = _relier(app_spec)
    source = _cell(relier, name)
    others = [cell for cell in relier.cells.names if cell != name]
    if target is not None and target not in others:
        raise click.UsageError(f"--to {target}: not another cell of RELIER_CELLS "
                               f"({', '.join(others) or 'none'})")
    if not others:
        raise click.UsageError(f"{name} is the only cell: there is nowhere to move its work")
    mark = mark_draining(source.store, by=f"{getpass.getuser()}@{socket.gethostname()}")
    echo(f"cell {name}: draining (new pushes go to {', '.join(others)}; producers notice "
         f"within {DRAIN_RECHECK_SECONDS:g}s)")
    time.sleep(DRAIN_RECHECK_SECONDS)  # a producer may still trust what it read before the mark
    deadline = time.monotonic() + timeout
    while True:
        load = _load(source)
        echo(f"cell {name}: {load.summary()}")
        if load.is_idle:
            break
        if time.monotonic() >= deadline:
            echo(f"cell {name}: not empty after {timeout:g}s; it stays drained (run "
                 f"`rl cells drain {name}` again to go on, or `rl cells undrain {name}`)", err=True)
            return EXIT_DRAIN_TIMEOUT
        time.sleep(min(interval, max(0.0, deadline - time.monotonic())))
    destination = target or _open_cell(relier, others, mark.moved_to)
    moved = move_dead_letters(source.store, relier.cells.runtime(destination).store,
                              name, destination)
    note_moved(source.store, destination)
    echo(f"cell {name}: {moved} dead letter(s) moved to cell {destination}")
    echo(f"cell {name}: drained. Next: remove {name} from RELIER_CELLS on every producer, then "
         f"stop its workers and resurrector; its Redis may then be retired")
    return 0


def _open_cell(relier: Relier, others: list[str], earlier: str) -> str:
    """Where dead letters go: where an earlier run sent them, else the first other cell that
    answers and is not draining."""
    if earlier:
        return earlier
    for cell in others:
        try:
            if not drain_mark(relier.cells.runtime(cell).store):
                return cell
        except UNREACHABLE:
            continue
    raise click.ClickException(f"no other cell is open and reachable ({', '.join(others)}): "
                               "the dead letters stay; run the drain again later")


@cells.command(short_help="Let a drained cell take new tasks again.")
@click.argument("name")
@app_option
def undrain(name: str, app_spec: str) -> int:
    """Remove cell NAME's drain mark: producers place tasks there again (within a second).
    Dead letters already moved stay where they went.

    Example:

    \b
      rl cells undrain west
    """
    relier = _relier(app_spec)
    existed = clear_drain(_cell(relier, name).store)
    echo(f"cell {name}: " + ("open again" if existed else "was not draining"))
    return 0
