"""``rl slo``: availability and burn rates per task, with the alert conditions."""

from __future__ import annotations

import json
from typing import Any

import click

from relier import slo
from relier.binding import Relier
from relier.cli.doctor import load_app


@click.command("slo")
@click.option("--task", "task_name", help="Only this task (default: every task and all together).")
@click.option("--objective", type=click.FloatRange(0.5, 0.99999), default=None,
              help="Availability objective (default: each task's `slo=`, else RELIER_SLO_OBJECTIVE).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--app", "app_spec", default="relier.tasks:app", show_default=True,
              help="Celery app whose Relier binding to use, as module:attribute.")
def slo_command(task_name: str | None, objective: float | None, as_json: bool, app_spec: str) -> int:
    """Availability over 5m, 30m, 1h, 6h and 3d, burn rates, and which alerts would fire."""
    relier = Relier.of(load_app(app_spec))
    names = [task_name] if task_name else ["*", *slo.tasks_counted(relier.store)]
    report: list[dict[str, Any]] = []
    for name in names:
        registered = relier.tasks.get(name)
        target = objective or (registered.spec.slo if registered and registered.spec.slo
                               else relier.settings.slo_objective)
        counts = slo.read_windows(relier.store, name)
        rates = {window: slo.burn_rate(count, target) for window, count in counts.items()}
        report.append({
            "task": "all tasks" if name == "*" else name, "objective": target,
            "windows": {window: {"good": c.good, "bad": c.bad, "availability": c.availability,
                                 "burn_rate": rates[window]} for window, c in counts.items()},
            "alerts": [{"name": a.name, "severity": a.severity, "firing": a.firing,
                        "windows": [a.long_window, a.short_window], "threshold": a.threshold}
                       for a in slo.alerts(rates)],
        })
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return 0
    for row in report:
        click.echo(f"{row['task']} (objective {row['objective']:.3%})")
        for window, values in row["windows"].items():
            availability = values["availability"]
            shown = "-" if availability is None else f"{availability:.3%}"
            click.echo(f"  {window:>4}  good {values['good']:>7}  bad {values['bad']:>6}  "
                       f"availability {shown:>9}  burn {values['burn_rate']:7.2f}")
        firing = [a for a in row["alerts"] if a["firing"]]
        click.echo("  alerts: " + (", ".join(f"{a['name']} ({a['severity']})" for a in firing)
                                    if firing else "none firing"))
    return 0
