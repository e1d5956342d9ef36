"""``rl dlq``: list, show, release, retry-all, purge and export dead letters."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from relier.binding import Relier
from relier.cli.doctor import load_app
from relier.cli.output import dumps, echo, echo_json
from relier.dlq import DeadLetterFilter, DeadLetters
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
                     help="Only entries with this reason."),
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


def _dead_letters(app_spec: str) -> DeadLetters:
    return Relier.of(load_app(app_spec)).dead_letters


app_option = click.option("--app", "app_spec", default="relier.tasks:app", show_default=True,
                          help="Celery app whose Relier binding to use, as module:attribute.")


@click.group()
def dlq() -> None:
    """Dead letters: tasks that ended without a result, with their reason and history."""


@dlq.command("list")
@filters
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@click.option("--offset", type=click.IntRange(0), default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@app_option
def list_command(limit: int, offset: int, as_json: bool, app_spec: str, **options: Any) -> int:
    """List dead letters, newest first."""
    dead = _dead_letters(app_spec)
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


@dlq.command()
@click.argument("task_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@app_option
def show(task_id: str, as_json: bool, app_spec: str) -> int:
    """Show one dead letter: reason, error, traceback, checkpoint and every attempt."""
    shown = _dead_letters(app_spec).show(task_id)
    if shown is None:
        raise click.ClickException(f"no dead letter {task_id}")
    if as_json:
        echo_json(shown, indent=2, sort_keys=True)
        return 0
    for name in ("name", "queue", "reason", "exc_type", "error", "attempt", "fence"):
        if name in shown:
            echo(f"{name:>10}: {shown[name]}")
    if shown.get("traceback"):
        echo("traceback:\n" + str(shown["traceback"]), keep_newlines=True)
    echo("history:")
    for entry in shown["history"]:
        echo("  " + dumps(entry, sort_keys=True))
    return 0


@dlq.command()
@click.argument("task_id")
@app_option
def release(task_id: str, app_spec: str) -> int:
    """Re-queue one dead letter (new ticket and fence; the entry leaves atomically)."""
    outcome = _dead_letters(app_spec).release(task_id, by="rl dlq release")
    if outcome != "queued":
        raise click.ClickException(f"{task_id} not released: {outcome.replace('_', ' ')}")
    echo(f"released {task_id}")
    return 0


@dlq.command("retry-all")
@filters
@click.option("--rate", type=click.FloatRange(min=0.1), default=50.0, show_default=True,
              help="Most releases per second.")
@click.option("--dry-run", is_flag=True, help="Only list what would be released.")
@app_option
def retry_all(rate: float, dry_run: bool, app_spec: str, **options: Any) -> int:
    """Release every matching dead letter, rate-limited."""
    report = _dead_letters(app_spec).retry_all(_where(options), rate=rate, dry_run=dry_run,
                                               by="rl dlq retry-all")
    verb = "would release" if dry_run else "released"
    echo(f"{verb} {len(report.released)}; refused {len(report.refused)}")
    for task_id, why in report.refused.items():
        echo(f"  {task_id}: {why}")
    return 0


@dlq.command()
@filters
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@app_option
def purge(yes: bool, app_spec: str, **options: Any) -> int:
    """Delete matching dead letters for good (asks first)."""
    dead = _dead_letters(app_spec)
    where = _where(options)
    matching = sum(1 for _ in dead.iter_entries(where))
    if matching == 0:
        echo("nothing to purge")
        return 0
    if not yes:
        if not sys.stdin.isatty():
            raise click.UsageError(f"purge of {matching} dead letters needs --yes when not interactive")
        click.confirm(f"delete {matching} dead letters for good?", abort=True)
    echo(f"purged {dead.purge(where)}")
    return 0


@dlq.command()
@filters
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to this file instead of standard output.")
@app_option
def export(output: Path | None, app_spec: str, **options: Any) -> int:
    """Export matching dead letters as JSON lines (binary fields base64)."""
    lines = _dead_letters(app_spec).export(_where(options))
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
