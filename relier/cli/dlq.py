"""``rl dlq``: list, show (alias ``inspect``), release, retry-all, purge and export dead letters."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from relier.binding import Relier
from relier.cli import dlq_cells
from relier.cli.cell_reads import cell_option, is_across_cells
from relier.cli.doctor import load_app
from relier.cli.output import dumps, echo, echo_json, echo_message, number_field
from relier.display import mask_secrets
from relier.dlq import DeadLetterFilter
from relier.reasons import DeadLetterReason

F = TypeVar("F", bound=Callable[..., Any])
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> float:
    """``90``, ``90s``, ``15m``, ``2h`` or ``7d`` as seconds."""
    value = text.strip().lower()
    unit = value[-1] if value and value[-1] in _DURATION_UNITS else "s"
    number = value[:-1] if value and value[-1] in _DURATION_UNITS else value
    try:
        seconds = float(number) * _DURATION_UNITS[unit]
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a duration like 90s, 15m, 2h or 7d") from None
    if seconds < 0:
        raise click.BadParameter(f"{text!r} is negative")
    return seconds


if TYPE_CHECKING:
    _ParamType = click.ParamType[float]
else:  # click.ParamType is generic only in newer click releases
    _ParamType = click.ParamType


class Duration(_ParamType):
    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        return value if isinstance(value, float) else parse_duration(str(value))


def filters(command: F) -> F:
    """The options every selecting command shares."""
    for option in reversed([
        click.option("--reason", type=click.Choice([r.value for r in DeadLetterReason]),
                     metavar="REASON",
                     help="Only entries with this reason: "
                          f"{', '.join(r.value for r in DeadLetterReason)}."),
        click.option("--task", help="Only entries of this task name."),
        click.option("--queue", help="Only entries from this queue."),
        click.option("--older-than", type=Duration(), help="Only entries older than this (15m, 2h, 7d)."),
        click.option("--newer-than", type=Duration(), help="Only entries newer than this."),
    ]):
        command = option(command)
    return command


def _where(options: dict[str, Any]) -> DeadLetterFilter:
    return DeadLetterFilter(reason=options.get("reason"), task=options.get("task"),
                            queue=options.get("queue"), older_than=options.get("older_than"),
                            newer_than=options.get("newer_than"))


app_option = click.option("--app", "app_spec", default="relier.tasks:app", show_default=True,
                          help="Celery app whose Relier binding to use, as module:attribute.")


@click.group(short_help="Dead letters: list, show, release, retry, purge, export.")
def dlq() -> None:
    """Dead letters: tasks that ended without a result, with their reason and history.

    Examples:

    \b
      rl dlq list --reason retries_exhausted --newer-than 1h
      rl dlq show 3f2c...          # decoded arguments, signature status
      rl dlq release 3f2c...
      rl dlq purge --older-than 7d --confirm
    """


@dlq.command("list", short_help="List dead letters, newest first.")
@filters
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True,
              help="Most entries to list.")
@click.option("--offset", type=click.IntRange(0), default=0, show_default=True,
              help="Entries to skip first (for paging).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@cell_option
@app_option
def list_command(limit: int, offset: int, as_json: bool, app_spec: str, cell: str | None,
                 **options: Any) -> int:
    """List dead letters, newest first: id, reason, task, age and error.

    Examples:

    \b
      rl dlq list
      rl dlq list --task billing.charge --older-than 2h --json
    """
    relier = Relier.of(load_app(app_spec))
    if is_across_cells(relier, cell):
        return dlq_cells.list_entries(relier, cell, _where(options), limit=limit, offset=offset,
                                      as_json=as_json)
    dead = relier.dead_letters
    entries = dead.list_entries(_where(options), limit=limit, offset=offset)
    if as_json:
        echo_json({"total": dead.count(), "entries": [e.as_dict() for e in entries]}, indent=2)
        return 0
    echo(f"{'id':<40} {'reason':<20} {'task':<28} {'age':>8}  error")
    for entry in entries:
        age = f"{entry.age_seconds():.0f}s"
        echo(f"{entry.id:<40} {entry.reason:<20} {entry.task[:28]:<28} {age:>8}  "
             f"{entry.error[:60]}")
    echo(f"{len(entries)} shown of {dead.count()} dead letters")
    return 0


_SHOW_HELP = """Show one dead letter: reason, error, traceback, the call's arguments decoded
(with whether its signature verifies against RELIER_SECRET_KEYS: verified, bad signature or
unknown key), its checkpoint and every attempt. Values are shown as Python literals, cut at
2,000 characters, with control characters replaced; values RELIER_CONSOLE_MASK names are
masked. --raw adds the stored bytes (message, checkpoint, result) as base64.

Examples:

\b
  rl dlq show 3f2c9a1e-...
  rl dlq show 3f2c9a1e-... --raw --json > entry.json
"""


@click.argument("task_id")
@click.option("--raw", is_flag=True,
              help="Also print the stored bytes (message, checkpoint, result) as base64.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@cell_option
@app_option
def _show(task_id: str, raw: bool, as_json: bool, app_spec: str, cell: str | None) -> int:
    relier = Relier.of(load_app(app_spec))
    dead, found_in = dlq_cells.dead_letters_for(relier, task_id, cell)  # with RELIER_CELLS
    entry = dead.show(task_id, raw=raw)
    message = dead.message(task_id)
    if entry is None or message is None:
        raise click.ClickException(f"no dead letter {task_id}")
    words = relier.settings.console_mask
    entry["message"] = mask_secrets(entry["message"], words)
    for name in ("partial", "result"):
        if name in entry and not raw:
            entry[name] = mask_secrets(entry[name], words)
    entry.update({"cell": found_in} if found_in else {})
    if as_json:
        echo_json(entry, indent=2, sort_keys=True)
        return 0
    for name in ("cell", "name", "queue", "reason", "exc_type", "error", "attempt", "fence"):
        if name in entry:
            echo(f"{name:>10}: "
                 + (number_field(entry[name]) if name in {"attempt", "fence"} else entry[name]))
    echo_message(message, words)
    if "partial" in entry:
        echo("checkpoint: " + (dumps(entry["partial"], sort_keys=True) if not raw
                               else f"{entry['partial']['bytes']} bytes (base64 below)"))
    if entry.get("traceback"):
        echo("traceback:\n" + str(entry["traceback"]), keep_newlines=True)
    echo("history:")
    for attempt in entry["history"]:
        echo("  " + dumps(attempt, sort_keys=True))
    if raw:
        for name in ("packed", "head", "tail", "raw", "partial", "result"):
            if name in entry:
                echo(f"{name} ({entry[name]['bytes']} bytes, base64): {entry[name]['base64']}")
    return 0


show = dlq.command("show", help=_SHOW_HELP,
                   short_help="Show one dead letter, its arguments decoded.")(_show)
#: The seed's name for `show`: the same parameters and callback.
inspect = click.Command("inspect", callback=show.callback, params=show.params,
                        help="Alias of `rl dlq show`.\n\n"
                             + _SHOW_HELP.replace("rl dlq show", "rl dlq inspect"),
                        short_help="Alias of show.")
dlq.add_command(inspect)


@dlq.command(short_help="Re-queue one dead letter.")
@click.argument("task_id")
@cell_option
@app_option
def release(task_id: str, app_spec: str, cell: str | None) -> int:
    """Re-queue one dead letter (new ticket and fence; the entry leaves atomically). Exit 1
    when it cannot be released (a message that did not verify, or no longer a dead letter).

    With RELIER_CELLS the entry is found in the cell its id names, else in the others.

    Example:

    \b
      rl dlq release 3f2c9a1e-...
    """
    dead, found_in = dlq_cells.dead_letters_for(Relier.of(load_app(app_spec)), task_id, cell)
    outcome = dead.release(task_id, by="rl dlq release")
    if outcome != "queued":
        raise click.ClickException(f"{task_id} not released: {outcome.replace('_', ' ')}")
    echo(f"released {task_id}" + (f" in cell {found_in}" if found_in else ""))
    return 0


@dlq.command("retry-all", short_help="Release every matching dead letter, rate-limited.")
@filters
@click.option("--rate", type=click.FloatRange(min=0.1), default=50.0, show_default=True,
              help="Most releases per second.")
@click.option("--dry-run", is_flag=True, help="Only list what would be released.")
@cell_option
@app_option
def retry_all(rate: float, dry_run: bool, app_spec: str, cell: str | None, **options: Any) -> int:
    """Release every matching dead letter, at most --rate a second, oldest first.

    Examples:

    \b
      rl dlq retry-all --reason worker_lost --dry-run
      rl dlq retry-all --task billing.charge --rate 10
    """
    relier = Relier.of(load_app(app_spec))
    if is_across_cells(relier, cell):
        return dlq_cells.retry_all(relier, cell, _where(options), rate=rate, dry_run=dry_run)
    report = relier.dead_letters.retry_all(_where(options), rate=rate, dry_run=dry_run,
                                               by="rl dlq retry-all")
    verb = "would release" if dry_run else "released"
    echo(f"{verb} {len(report.released)}; refused {len(report.refused)}")
    for task_id, why in report.refused.items():
        echo(f"  {task_id}: {why}")
    return 0


@dlq.command(short_help="Delete matching dead letters for good (asks first).")
@filters
@click.option("--yes", "--confirm", "yes", is_flag=True,
              help="Do not ask for confirmation (needed when not interactive).")
@cell_option
@app_option
def purge(yes: bool, app_spec: str, cell: str | None, **options: Any) -> int:
    """Delete matching dead letters for good. Asks first on a terminal; elsewhere it needs
    --yes (or its alias --confirm).

    Examples:

    \b
      rl dlq purge --reason undecodable
      rl dlq purge --older-than 30d --confirm
    """
    relier = Relier.of(load_app(app_spec))
    if is_across_cells(relier, cell):
        return dlq_cells.purge(relier, cell, _where(options), yes=yes)
    dead = relier.dead_letters
    where = _where(options)
    matching = sum(1 for _ in dead.iter_entries(where))
    if matching == 0:
        echo("nothing to purge")
        return 0
    if not yes:
        if not sys.stdin.isatty():
            raise click.UsageError(
                f"purge of {matching} dead letters needs --yes (or --confirm) when not interactive")
        click.confirm(f"delete {matching} dead letters for good?", abort=True)
    echo(f"purged {dead.purge(where)}")
    return 0


@dlq.command(short_help="Export matching dead letters as JSON lines.")
@filters
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to this file instead of standard output.")
@cell_option
@app_option
def export(output: Path | None, app_spec: str, cell: str | None, **options: Any) -> int:
    """Export matching dead letters as JSON lines: each entry as `rl dlq show --raw --json`
    gives it (binary fields base64, the message decoded too; values are not masked).

    Examples:

    \b
      rl dlq export --reason retries_exhausted --output dlq.jsonl
      rl dlq export --newer-than 1d | jq .message.args
    """
    relier = Relier.of(load_app(app_spec))
    if is_across_cells(relier, cell):
        return dlq_cells.export(relier, cell, _where(options), output)
    lines = relier.dead_letters.export(_where(options))
    if output is None:
        for line in lines:
            echo(line)  # JSON lines: already ASCII; replacing controls is a second guard
        return 0
    with output.open("w") as handle:
        count = 0
        for line in lines:
            handle.write(line + "\n")
            count += 1
    echo(f"exported {count} to {output}")
    return 0
