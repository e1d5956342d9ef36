"""``rl workers``, ``rl tasks inflight``, ``rl tail``, ``rl slo`` and ``rl admission`` across
cells: each cell read (`relier.cli.cell_reads`), the rows merged with a cell column."""

from __future__ import annotations

import time
from typing import Any

import click

from relier import inspection
from relier.admission import Admission, Scope, clear_limits, live_limits, set_limits
from relier.binding import Relier
from relier.cell_views import fleet_limits, longest_running
from relier.cli.cell_reads import UNREACHABLE, CellReads
from relier.cli.output import dumps, echo, echo_json, echo_lines, number_cell
from relier.eventstream import EventStream
from relier.runtime import Runtime


def ago(seconds: float | None) -> str:
    """A last-seen age short enough for a column: 4.2s, 12m05s, 3h20m."""
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes}m{int(seconds % 60):02d}s"
    return f"{minutes // 60}h{minutes % 60:02d}m"


def _age(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.1f}s"


def workers(relier: Relier, only: str | None, *, show_all: bool, as_json: bool) -> int:
    reads = CellReads(relier, only)
    per_cell = reads.read(lambda runtime: inspection.workers(runtime.store, include_dead=show_all))
    if as_json:
        echo_json([{**view.as_dict(), "cell": cell} for cell, views in per_cell for view in views],
                  indent=2)
        return reads.finish()
    echo(f"{'cell':<10} {'worker':<36} {'state':<5} {'pool':<8} {'queues':<26} {'seen':>7} "
         f"{'held':>5}")
    for cell, views in per_cell:
        for view in views:
            echo(f"{cell:<10} {view.node:<36} {view.state.value:<5} {view.pool:<8} "
                 f"{','.join(view.queues)[:26]:<26} {ago(view.last_seen_age):>7} "
                 f"{view.tasks_held:>5}")
            for process in view.processes:
                echo(f"{'':<10}   {process.id:<34} {'':<5} {'':<8} {'':<26} "
                     f"{ago(process.lease_age):>7} {process.tasks_held:>5}")
    found = [view for _, views in per_cell for view in views]
    dead = sum(view.is_dead for view in found)
    echo(f"{len(found) - dead} live worker(s)" + (f", {dead} dead" if show_all else "")
         + f" in {len(per_cell)} cell(s)")
    return reads.finish()


def _inflight_lines(rows: list[tuple[str, inspection.InflightTask]]) -> list[str]:
    lines = [f"{'cell':<10} {'id':<46} {'task':<26} {'state':<9} {'att':>3} {'fence':>5} "
             f"{'lease':>7} {'running':>8}  worker"]
    lines += [f"{cell:<10} {t.id:<46} {t.task[:26]:<26} {t.state:<9} {number_cell(t.attempt):>3} "
              f"{number_cell(t.fence):>5} {_age(t.lease_age):>7} {_age(t.running_for):>8}  {t.holder}"
              for cell, t in rows]
    lines.append(f"{len(rows)} inflight")
    return lines


def inflight(relier: Relier, only: str | None, *, queue: str | None, worker: str | None,
             limit: int, as_json: bool, follow: bool, interval: float) -> int:
    def one_read() -> tuple[CellReads, list[tuple[str, inspection.InflightTask]]]:
        reads = CellReads(relier, only)
        per_cell = reads.read(lambda runtime: inspection.inflight(
            runtime.store, queue=queue, worker=worker, limit=limit))
        return reads, longest_running(per_cell, limit=limit)

    def shown(rows: list[tuple[str, inspection.InflightTask]]) -> list[dict[str, Any]]:
        return [{**task.as_dict(), "cell": cell} for cell, task in rows]

    if not follow:
        reads, rows = one_read()
        if as_json:
            echo_json(shown(rows), indent=2)
        else:
            echo_lines(_inflight_lines(rows))
        return reads.finish()
    try:
        while True:
            reads, rows = one_read()
            if as_json:
                echo_json({"at": time.time(), "tasks": shown(rows),
                           "unreachable": reads.unreachable})
            else:
                click.clear()
                echo_lines(_inflight_lines(rows))
                reads.report()
            time.sleep(interval)
    except KeyboardInterrupt:
        return 0


def tail(relier: Relier, only: str | None, *, task_name: str | None,
         event_type: str | None, since: str, count: int | None, as_json: bool) -> int:
    """Each cell's event stream in turn (a short block each), every event with its cell."""
    reads = CellReads(relier, only)
    streams = {cell: EventStream.of(reads.runtime(cell).store) for cell in reads.names}
    last = dict.fromkeys(streams, since)
    names: dict[str, str] = {}
    shown, block_ms = 0, max(50, 1000 // len(streams))
    down: set[str] = set()
    try:
        while count is None or shown < count:
            for cell, stream in streams.items():
                try:
                    last[cell], events = stream.read(last[cell], count=100, block_ms=block_ms)
                except UNREACHABLE as exc:
                    if cell not in down:  # said once per outage
                        echo(f"cell {cell}: unreachable ({type(exc).__name__}: {exc})", err=True)
                        reads.note_unreachable(cell, exc)
                        down.add(cell)
                    time.sleep(block_ms / 1000)
                    continue
                down.discard(cell)
                for event in events:
                    name = event.get("task") or names.get(event.get("id", ""), "")
                    if event.get("task"):
                        names[event["id"]] = event["task"]
                    if (task_name and name != task_name) or (
                            event_type and event.get("type") != event_type):
                        continue
                    shown += 1
                    echo(dumps({**event, "cell": cell}, sort_keys=True) if as_json else
                         f"{cell:<10} {event['event_id']} {event.get('type', '?'):<18} "
                         f"{event.get('id', ''):<46} {name}")
                    if count is not None and shown >= count:
                        return 1 if reads.unreachable else 0
    except KeyboardInterrupt:
        pass
    return 1 if reads.unreachable else 0


def slo(relier: Relier, only: str | None, *, task_name: str | None, objective: float | None,
        as_json: bool) -> int:
    reads = CellReads(relier, only)
    per_cell = reads.read(lambda runtime: relier.slo_report(task_name, objective, cell=runtime.cell))
    if as_json:
        echo_json([{**row, "cell": cell} for cell, report in per_cell for row in report], indent=2)
        return reads.finish()
    for cell, report in per_cell:
        for row in report:
            echo(f"cell {cell}: {row['task']} (objective {row['objective']:.3%})")
            for window, values in row["windows"].items():
                availability = values["availability"]
                text = "-" if availability is None else f"{availability:.3%}"
                echo(f"  {window:>4}  good {values['good']:>7}  bad {values['bad']:>6}  "
                     f"availability {text:>9}  burn {values['burn_rate']:7.2f}")
            firing = [a for a in row["alerts"] if a["firing"]]
            echo("  alerts: " + (", ".join(f"{a['name']} ({a['severity']})" for a in firing)
                                  if firing else "none firing"))
    return reads.finish()


def change_limits(relier: Relier, only: str | None, scope: Scope, name: str,
                  limits: dict[str, Any] | None) -> int:
    """`rl admission set` (`limits` given) or `clear` (None) in each chosen cell."""
    reads = CellReads(relier, only)

    def change(runtime: Runtime) -> bool:
        if limits is None:
            return clear_limits(runtime.store, scope, name)
        set_limits(runtime.store, scope, name, **limits)
        return True

    answers = reads.read(change)
    where = f"cell {only}" if only else f"every cell ({', '.join(reads.names)})"
    if limits is not None:
        echo(f"{scope} {name}: limits set in {where}; limits are per cell"
             + ("" if only else ": the fleet admits their sum"))
    else:
        cleared = [cell for cell, existed in answers if existed]
        echo(f"{scope} {name}: override cleared in {', '.join(cleared) or 'no cell'}"
             f" (of {where})")
    return reads.finish()


def admission_status(relier: Relier, only: str | None, *, declared: list[dict[str, Any]],
                     as_json: bool) -> int:
    reads = CellReads(relier, only)
    per_cell = dict(reads.read(lambda runtime: live_limits(runtime.store)))
    totals = fleet_limits(per_cell, {
        (row["scope"], row["name"]): Admission(row["rate"], row["burst"], row["max_depth"])
        for row in declared})
    if as_json:
        echo_json({
            "live": [{"cell": cell, "scope": item.scope, "name": item.name, "rate": item.rate,
                      "burst": item.burst, "max_depth": item.max_depth}
                     for cell, items in per_cell.items() for item in items],
            "declared": declared,
            "fleet": [total.as_dict() for total in totals],
        }, indent=2)
        return reads.finish()
    live = [(cell, item) for cell, items in per_cell.items() for item in items]
    echo("live overrides:" if live else "live overrides: none")
    for cell, item in live:
        echo(f"  {cell:<10} {item.scope:<6} {item.name:<30} rate={item.rate} burst={item.burst} "
             f"max_depth={item.max_depth}")
    echo("declared in code (per cell):" if declared else "declared in code: none")
    for row in declared:
        echo(f"  {row['scope']:<6} {row['name']:<30} rate={row['rate']} burst={row['burst']} "
             f"max_depth={row['max_depth']}")
    echo(f"fleet-wide (sum over {len(per_cell)} cell(s) that answered):"
         + ("" if totals else " no limits"))
    for total in totals:
        rate = "none" if total.rate is None else f"{total.rate:g}/s"
        depth = "none" if total.max_depth is None else str(total.max_depth)
        echo(f"  {total.scope:<6} {total.name:<30} rate={rate} max_depth={depth}")
    return reads.finish()
