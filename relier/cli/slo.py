"""``rl slo``: availability and burn rates per task, with the alert conditions."""

from __future__ import annotations

import click

from relier.binding import Relier
from relier.cli import ops_cells
from relier.cli.cell_reads import cell_option, is_across_cells
from relier.cli.doctor import load_app
from relier.cli.output import echo, echo_json


@click.command("slo", short_help="Availability, burn rates and alerts per task.")
@click.option("--task", "task_name", help="Only this task (default: every task and all together).")
@click.option("--objective", type=click.FloatRange(0.5, 0.99999), default=None,
              help="Availability objective (default: each task's `slo=`, else RELIER_SLO_OBJECTIVE).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--app", "app_spec", default="relier.tasks:app", show_default=True,
              help="Celery app whose Relier binding to use, as module:attribute.")
@cell_option
def slo_command(task_name: str | None, objective: float | None, as_json: bool, app_spec: str,
                cell: str | None) -> int:
    """Availability over 5m, 30m, 1h, 6h and 3d, burn rates, and which alerts would fire.

    Examples:

    \b
      rl slo
      rl slo --task billing.charge --objective 0.999 --json
    """
    relier = Relier.of(load_app(app_spec))
    if is_across_cells(relier, cell):  # each cell's counts, labelled with their cell
        return ops_cells.slo(relier, cell, task_name=task_name, objective=objective,
                             as_json=as_json)
    report = relier.slo_report(task_name, objective)
    if as_json:
        echo_json(report, indent=2)
        return 0
    for row in report:
        echo(f"{row['task']} (objective {row['objective']:.3%})")
        for window, values in row["windows"].items():
            availability = values["availability"]
            shown = "-" if availability is None else f"{availability:.3%}"
            unreadable = values["unreadable"]
            echo(f"  {window:>4}  good {values['good']:>7}  bad {values['bad']:>6}  "
                 f"availability {shown:>9}  burn {values['burn_rate']:7.2f}"
                 + (f"  ({unreadable} counters not numbers, not counted)" if unreadable else ""))
        firing = [a for a in row["alerts"] if a["firing"]]
        echo("  alerts: " + (", ".join(f"{a['name']} ({a['severity']})" for a in firing)
                              if firing else "none firing"))
    return 0
