"""``rl workers``, ``rl tasks``, ``rl tail`` and ``rl push``: see and act on the live system."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import click
import redis

from relier import inspection
from relier.binding import Relier
from relier.cli import ops_cells
from relier.cli.cell_reads import cell_option, is_across_cells
from relier.cli.doctor import load_app
from relier.cli.output import dumps, echo, echo_json, echo_lines, echo_message, number_cell
from relier.display import mask_secrets
from relier.errors import ConfigurationError, RelierError
from relier.eventstream import EventStream
from relier.stored_message import decode_stored

app_option = click.option("--app", "app_spec", default="relier.tasks:app", show_default=True,
                          help="Celery app whose Relier binding to use, as module:attribute.")
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


def _relier(app_spec: str) -> Relier:
    return Relier.of(load_app(app_spec))


def _age(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.1f}s"


@click.command(short_help="Live workers (--all: dead ones too), last seen, tasks held.")
@click.option("--all", "show_all", is_flag=True,
              help="Also list dead workers (lease expired), kept for "
                   "RELIER_DEAD_WORKER_RETENTION.")
@cell_option
@json_option
@app_option
def workers(show_all: bool, as_json: bool, app_spec: str, cell: str | None) -> int:
    """Live workers: state, pool, queues, last seen (lease age), tasks held, then each pool
    process (two round trips). A worker whose lease expired is dead: listed with --all, with
    how long ago it was last seen, until the resurrector forgets it after
    RELIER_DEAD_WORKER_RETENTION.

    Examples:

    \b
      rl workers
      rl workers --all
      rl workers --all --json
      rl workers --cell west       # with RELIER_CELLS: one cell
    """
    relier = _relier(app_spec)
    if is_across_cells(relier, cell):
        return ops_cells.workers(relier, cell, show_all=show_all, as_json=as_json)
    views = inspection.workers(relier.store, include_dead=show_all)
    if as_json:
        echo_json([view.as_dict() for view in views], indent=2)
        return 0
    echo(f"{'worker':<36} {'state':<5} {'pool':<8} {'queues':<26} {'seen':>7} {'held':>5}")
    for view in views:
        echo(f"{view.node:<36} {view.state.value:<5} {view.pool:<8} "
             f"{','.join(view.queues)[:26]:<26} {ops_cells.ago(view.last_seen_age):>7} "
             f"{view.tasks_held:>5}")
        for process in view.processes:
            echo(f"  {process.id:<34} {'':<5} {'':<8} {'':<26} {ops_cells.ago(process.lease_age):>7} "
                 f"{process.tasks_held:>5}")
    dead = sum(view.is_dead for view in views)
    echo(f"{len(views) - dead} live worker(s)" + (f", {dead} dead" if show_all else ""))
    return 0


@click.group(short_help="Inflight tasks, and one task's whole record.")
def tasks() -> None:
    """Tasks: what is running now, and one task's whole record.

    Examples:

    \b
      rl tasks inflight --queue billing --follow
      rl tasks show 3f2c9a1e-...
    """


def _inflight_table(rows: list[inspection.InflightTask]) -> list[str]:
    lines = [f"{'id':<38} {'task':<26} {'state':<9} {'att':>3} {'fence':>5} {'lease':>7} "
             f"{'running':>8}  worker"]
    lines += [f"{t.id:<38} {t.task[:26]:<26} {t.state:<9} {number_cell(t.attempt):>3} "
              f"{number_cell(t.fence):>5} "
              f"{_age(t.lease_age):>7} {_age(t.running_for):>8}  {t.holder}" for t in rows]
    lines.append(f"{len(rows)} inflight")
    return lines


@tasks.command("inflight", short_help="Tasks reserved or running now.")
@click.option("--queue", help="Only tasks of this queue.")
@click.option("--worker", help="Only tasks held by processes of this worker (prefix).")
@click.option("--follow", is_flag=True, help="Redraw every --interval seconds until Ctrl-C.")
@click.option("--interval", type=click.FloatRange(min=0.2), default=1.0, show_default=True,
              help="Seconds between redraws with --follow.")
@click.option("--limit", type=click.IntRange(1, 100_000), default=200, show_default=True,
              help="Most tasks to list (the longest running first).")
@cell_option
@json_option
@app_option
def inflight_command(queue: str | None, worker: str | None, follow: bool, interval: float,  # noqa: PLR0917 - click passes options by name
                     limit: int, as_json: bool, app_spec: str, cell: str | None) -> int:
    """Tasks reserved or running, with attempt, fence, lease age and running time.

    Examples:

    \b
      rl tasks inflight
      rl tasks inflight --worker celery@host-1 --follow --interval 2
    """
    relier = _relier(app_spec)
    if is_across_cells(relier, cell):
        return ops_cells.inflight(relier, cell, queue=queue, worker=worker, limit=limit,
                                  as_json=as_json, follow=follow, interval=interval)
    store = relier.store
    if not follow:
        rows = inspection.inflight(store, queue=queue, worker=worker, limit=limit)
        if as_json:
            echo_json([row.as_dict() for row in rows], indent=2)
        else:
            echo_lines(_inflight_table(rows))
        return 0
    try:
        while True:
            rows = inspection.inflight(store, queue=queue, worker=worker, limit=limit)
            if as_json:
                echo_json({"at": time.time(), "tasks": [r.as_dict() for r in rows]})
            else:
                click.clear()
                echo_lines(_inflight_table(rows))
            time.sleep(interval)
    except KeyboardInterrupt:
        return 0


_SHOW_HELP = """One task's whole record, the call's arguments decoded, and its attempt history.

The arguments are decoded from the message the record keeps, with whether its signature
verifies against RELIER_SECRET_KEYS (verified, bad signature or unknown key), as `rl dlq show`
decodes a dead letter's. Values are shown as Python literals, cut at 2,000 characters, with
control characters replaced; values RELIER_CONSOLE_MASK names are masked. --raw adds the
stored bytes (message, checkpoint, result) as base64.

Examples:

\b
  rl tasks show 3f2c9a1e-...
  rl tasks show 3f2c9a1e-... --raw --json > task.json
"""

#: record fields that hold bytes, which --raw prints as base64
_STORED_BYTES = ("packed", "head", "tail", "raw", "partial", "result")


@tasks.command("show", help=_SHOW_HELP,
               short_help="One task's record, its arguments decoded, and attempt history.")
@click.argument("task_id")
@click.option("--raw", is_flag=True,
              help="Also print the stored bytes (message, checkpoint, result) as base64.")
@json_option
@app_option
def show_command(task_id: str, raw: bool, as_json: bool, app_spec: str) -> int:
    relier = _relier(app_spec)
    store = relier.cells.locate(task_id).store  # with RELIER_CELLS: the cell the id names
    detail = inspection.task_detail(store, task_id)
    if detail is None:
        raise click.ClickException(f"no task {task_id} (never pushed, or expired)")
    record = store.record(task_id)
    message = decode_stored(record, dict(relier.settings.verification_keys))
    words = relier.settings.console_mask
    for name in ("partial", "result"):
        if name in detail and not raw:
            detail[name] = mask_secrets(detail[name], words)
    stored = {name: record[name] for name in _STORED_BYTES if name in record} if raw else {}
    if as_json:
        detail["message"] = mask_secrets(message.as_dict(), words)
        if stored:
            detail["stored"] = {name: {"base64": base64.b64encode(value).decode(), "bytes": len(value)}
                                for name, value in stored.items()}
        echo_json(detail, indent=2, sort_keys=True, default=repr)
        return 0
    for name, value in detail.items():
        if name == "traceback" and value:
            echo(f"{name:>18}:\n{value}", keep_newlines=True)
        elif name != "history":
            echo(f"{name:>18}: {value}")
    echo("message:")
    echo_message(message, words)
    echo("history:")
    for entry in detail["history"]:
        echo("  " + dumps(entry, sort_keys=True, default=repr))
    for name, value in stored.items():
        echo(f"{name} ({len(value)} bytes, base64): {base64.b64encode(value).decode()}")
    return 0


@click.command(short_help="Follow lifecycle events as they happen.")
@click.option("--task", "task_name", help="Only events of this task name.")
@click.option("--type", "event_type", help="Only events of this type (completed, failed, ...).")
@click.option("--since", default="$", show_default=True,
              help="Stream id to resume after ($: only new events, 0: from the start).")
@click.option("--count", type=click.IntRange(min=1), help="Stop after this many events.")
@cell_option
@json_option
@app_option
def tail(task_name: str | None, event_type: str | None, since: str, count: int | None,  # noqa: PLR0917 - click passes options by name
         as_json: bool, app_spec: str, cell: str | None) -> int:
    """Lifecycle events as they happen (resumable with --since).

    Examples:

    \b
      rl tail
      rl tail --type dead_lettered --since 0 --count 20 --json
    """
    relier = _relier(app_spec)
    if is_across_cells(relier, cell):
        return ops_cells.tail(relier, cell, task_name=task_name, event_type=event_type,
                              since=since, count=count, as_json=as_json)
    stream = EventStream.of(relier.store)
    names: dict[str, str] = {}
    last, shown = since, 0  # the first read pins "$" to a real id: no event is skipped after it
    try:
        while count is None or shown < count:
            last, events = stream.read(last, count=100, block_ms=1000)
            for event in events:
                name = event.get("task") or names.get(event.get("id", ""), "")
                if event.get("task"):
                    names[event["id"]] = event["task"]
                if (task_name and name != task_name) or (event_type and event.get("type") != event_type):
                    continue
                shown += 1
                echo(dumps(event, sort_keys=True) if as_json else
                     f"{event['event_id']} {event.get('type', '?'):<18} "
                     f"{event.get('id', ''):<38} {name}")
                if count is not None and shown >= count:
                    return 0
    except KeyboardInterrupt:
        return 0
    return 0


def _json_value(text: str, option: str, kind: type) -> Any:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not JSON: {exc.msg} at column {exc.colno}",
                                 param_hint=option) from None
    except RecursionError:
        raise click.BadParameter("nested too deeply", param_hint=option) from None
    if not isinstance(value, kind):
        raise click.BadParameter(f"must be a JSON {'array' if kind is list else 'object'}",
                                 param_hint=option)
    return value


@click.command("push", short_help="Push a task by name with JSON arguments.")
@click.argument("task_name")
@click.option("--args", "args_json", default="[]", show_default=True, help="JSON array.")
@click.option("--kwargs", "kwargs_json", default="{}", show_default=True, help="JSON object.")
@click.option("--queue", help="Queue (default: the task's, or RELIER_DEFAULT_QUEUE).")
@click.option("--version", "schema_version", type=click.IntRange(min=1),
              help="Argument version of a task not registered here (default 1).")
@app_option
def push_command(task_name: str, args_json: str, kwargs_json: str, queue: str | None,  # noqa: PLR0917 - click passes options by name
                 schema_version: int | None, app_spec: str) -> int:
    """Dispatch TASK_NAME with JSON arguments; prints the task id.

    Examples:

    \b
      rl push demo.resize_image --args '["cat.png"]'
      rl push billing.charge --kwargs '{"order_id": "o-1"}' --queue billing
    """
    args = _json_value(args_json, "--args", list)
    kwargs = _json_value(kwargs_json, "--kwargs", dict)
    relier = _relier(app_spec)
    try:
        handle = relier.push_by_name(task_name, args, kwargs, queue=queue, version=schema_version)
    except ConfigurationError:
        raise  # `main` reports it
    except RelierError as exc:  # admission refused, not durable, outcome unknown: one line
        raise click.ClickException(str(exc)) from None
    except redis.RedisError as exc:
        raise click.ClickException(f"cannot reach Redis: {exc}") from None
    except OverflowError as exc:
        raise click.BadParameter(f"an integer does not fit in 64 bits ({exc})",
                                 param_hint="--args/--kwargs") from None
    except TypeError as exc:
        raise click.BadParameter(str(exc), param_hint="--args/--kwargs") from None
    except ValueError as exc:
        raise click.UsageError(f"cannot push {task_name}: {exc}") from None
    echo(handle.id)
    return 0
