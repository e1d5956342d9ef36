"""``rl admission``: see and change admission limits live."""

from __future__ import annotations

from typing import Any

import click

from relier.admission import Scope, clear_limits, live_limits, set_limits
from relier.binding import Relier
from relier.cli import ops_cells
from relier.cli.cell_reads import cell_option, is_across_cells
from relier.cli.doctor import load_app
from relier.cli.output import UNREADABLE_NUMBER, echo, echo_json

app_option = click.option("--app", "app_spec", default="relier.tasks:app", show_default=True,
                          help="Celery app whose Relier binding to use, as module:attribute.")


def _scope(task: bool) -> Scope:
    return "task" if task else "queue"


@click.group(short_help="See and change admission limits (rate, queue depth).")
def admission() -> None:
    """Admission limits: rate (GCRA with burst) and maximum queue depth, per queue or task.

    Examples:

    \b
      rl admission status
      rl admission set billing --rate 20 --burst 40
      rl admission clear billing
    """


@admission.command("set", short_help="Override a queue's or task's limits now.")
@click.argument("name")
@click.option("--task", "is_task", is_flag=True, help="NAME is a task name, not a queue.")
@click.option("--rate", type=click.FloatRange(min=0), help="Pushes per second (0: no limit).")
@click.option("--burst", type=click.IntRange(min=1), help="Pushes allowed at once.")
@click.option("--max-depth", type=click.IntRange(min=0), help="Most waiting messages (0: none).")
@cell_option
@app_option
def set_command(name: str, is_task: bool, rate: float | None, burst: int | None,  # noqa: PLR0917 - click passes options by name
                max_depth: int | None, app_spec: str, cell: str | None) -> int:
    """Override the limits of queue NAME (or task NAME) now; the next push uses them.

    Examples:

    \b
      rl admission set billing --rate 20 --burst 40
      rl admission set reports.build --task --max-depth 100
      rl admission set billing --rate 20 --cell west  # one cell

    With RELIER_CELLS, limits are per cell: without --cell they are set in every cell.
    """
    if rate is None and burst is None and max_depth is None:
        raise click.UsageError("give at least one of --rate, --burst, --max-depth")
    relier = Relier.of(load_app(app_spec))
    if is_across_cells(relier, cell):
        return ops_cells.change_limits(relier, cell, _scope(is_task), name, {
            "rate": rate, "burst": burst, "max_depth": max_depth})
    set_limits(relier.store, _scope(is_task), name, rate=rate, burst=burst, max_depth=max_depth)
    echo(f"{_scope(is_task)} {name}: limits set")
    return 0


@admission.command(short_help="Drop a live override; declared limits apply.")
@click.argument("name")
@click.option("--task", "is_task", is_flag=True, help="NAME is a task name, not a queue.")
@cell_option
@app_option
def clear(name: str, is_task: bool, app_spec: str, cell: str | None) -> int:
    """Drop the live override of NAME; its declared limits apply again.

    Example:

    \b
      rl admission clear billing

    With RELIER_CELLS: in every cell, or the one --cell names.
    """
    relier = Relier.of(load_app(app_spec))
    if is_across_cells(relier, cell):
        return ops_cells.change_limits(relier, cell, _scope(is_task), name, None)
    existed = clear_limits(relier.store, _scope(is_task), name)
    echo(f"{_scope(is_task)} {name}: {'override cleared' if existed else 'no override'}")
    return 0


@admission.command(short_help="Live overrides and declared limits.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@cell_option
@app_option
def status(as_json: bool, app_spec: str, cell: str | None) -> int:
    """Live overrides (set with `rl admission set`) and the limits declared in code.

    Example:

    \b
      rl admission status --json
    """
    relier = Relier.of(load_app(app_spec))
    declared: list[dict[str, Any]] = [
        {"scope": "queue", "name": queue, "rate": limits.rate, "burst": limits.burst,
         "max_depth": limits.max_depth}
        for queue, limits in sorted(relier.queue_admission.items())
    ] + [
        {"scope": "task", "name": task.name, "rate": task.spec.admission.rate,
         "burst": task.spec.admission.burst, "max_depth": task.spec.admission.max_depth}
        for task in relier.tasks.values() if task.spec.admission is not None
    ]
    if is_across_cells(relier, cell):  # each cell's overrides, and the fleet-wide sum
        return ops_cells.admission_status(relier, cell, declared=declared, as_json=as_json)
    live = live_limits(relier.store)
    if as_json:
        echo_json({
            "live": [{"scope": item.scope, "name": item.name, "rate": item.rate,
                      "burst": item.burst, "max_depth": item.max_depth,
                      "unreadable": list(item.unreadable)} for item in live],
            "declared": declared,
        }, indent=2)
        return 0
    echo("live overrides:" if live else "live overrides: none")
    for item in live:
        limits = {"rate": item.rate, "burst": item.burst, "max_depth": item.max_depth}
        echo(f"  {item.scope:<6} {item.name:<30} " + " ".join(
            f"{limit}={UNREADABLE_NUMBER if limit in item.unreadable else value}"
            for limit, value in limits.items()))
    echo("declared in code:" if declared else "declared in code: none")
    for row in declared:
        echo(f"  {row['scope']:<6} {row['name']:<30} rate={row['rate']} burst={row['burst']} "
             f"max_depth={row['max_depth']}")
    return 0
