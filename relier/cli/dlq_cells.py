"""``rl dlq`` across cells: entries merged with their cell, one found by its id's cell, bulk
operations cell by cell (`relier.cli.cell_reads` for --cell and unreachable cells)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from relier.binding import Relier
from relier.cell_views import newest_dead_letters
from relier.cli.cell_reads import UNREACHABLE, CellReads, is_across_cells
from relier.cli.output import echo, echo_json
from relier.dlq import DeadLetter, DeadLetterFilter, DeadLetters
from relier.placement import cell_in_task_id


def dead_letters_for(relier: Relier, task_id: str, only: str | None) -> tuple[DeadLetters, str]:
    """The dead letters holding `task_id` and their cell ("" without RELIER_CELLS): the cell
    its id names first, then the others (a drained cell's entries moved to another); the
    home or named cell's when none holds it. Raises `click.ClickException` when it is not
    found and some cell did not answer."""
    if not is_across_cells(relier, only):
        return relier.dead_letters, ""
    reads = CellReads(relier, only)
    named = cell_in_task_id(task_id, reads.names)
    order = ([named] if named else []) + [cell for cell in reads.names if cell != named]
    for cell in order:
        store = relier.cells.runtime(cell).store
        try:
            if store.client.zscore(store.keys.dead_letters, task_id) is not None:
                return relier.dead_letters_in(cell), cell
        except UNREACHABLE as exc:
            reads.note_unreachable(cell, exc)
    if reads.unreachable:
        reads.report()
        raise click.ClickException(
            f"no dead letter {task_id} in the cells that answered "
            f"(unreachable: {', '.join(reads.unreachable)})")
    first = named or reads.names[0]
    return relier.dead_letters_in(first), first


def list_entries(relier: Relier, only: str | None, where: DeadLetterFilter, *,
                 limit: int, offset: int, as_json: bool) -> int:
    reads = CellReads(relier, only)

    per_cell = reads.read(lambda runtime: _listed(relier.dead_letters_in(runtime.cell), where,
                                                 offset + limit))
    total = sum(count for _, (count, _) in per_cell)
    rows = newest_dead_letters([(cell, entries) for cell, (_, entries) in per_cell],
                               limit=limit, offset=offset)
    if as_json:
        echo_json({"total": total, "entries": [{**entry.as_dict(), "cell": cell}
                                               for cell, entry in rows]}, indent=2)
        return reads.finish()
    echo(f"{'cell':<10} {'id':<48} {'reason':<20} {'task':<28} {'age':>8}  error")
    for cell, entry in rows:
        age = f"{entry.age_seconds():.0f}s"
        echo(f"{cell:<10} {entry.id:<48} {entry.reason:<20} {entry.task[:28]:<28} {age:>8}  "
             f"{entry.error[:60]}")
    echo(f"{len(rows)} shown of {total} dead letters in {len(per_cell)} cell(s)")
    return reads.finish()


def _listed(dead: DeadLetters, where: DeadLetterFilter, most: int) -> tuple[int, list[DeadLetter]]:
    return dead.count(), list(dead.list_entries(where, limit=most))


def retry_all(relier: Relier, only: str | None, where: DeadLetterFilter, *, rate: float,
              dry_run: bool) -> int:
    reads = CellReads(relier, only)
    per_cell = reads.read(lambda runtime: relier.dead_letters_in(runtime.cell).retry_all(
        where, rate=rate, dry_run=dry_run, by="rl dlq retry-all"))
    verb = "would release" if dry_run else "released"
    for cell, report in per_cell:
        echo(f"cell {cell}: {verb} {len(report.released)}; refused {len(report.refused)}")
        for task_id, why in report.refused.items():
            echo(f"  {task_id}: {why}")
    return reads.finish()


def purge(relier: Relier, only: str | None, where: DeadLetterFilter, *, yes: bool) -> int:
    reads = CellReads(relier, only)
    matching = dict(reads.read(lambda runtime: sum(
        1 for _ in relier.dead_letters_in(runtime.cell).iter_entries(where))))
    total = sum(matching.values())
    if total == 0:
        echo("nothing to purge")
        return reads.finish()
    if not yes:
        if not sys.stdin.isatty():
            raise click.UsageError(
                f"purge of {total} dead letters needs --yes (or --confirm) when not interactive")
        click.confirm(f"delete {total} dead letters for good "
                      f"({', '.join(f'{cell}: {n}' for cell, n in matching.items())})?", abort=True)
    purged = reads.read(lambda runtime: relier.dead_letters_in(runtime.cell).purge(where)
                        if matching.get(runtime.cell) else 0)
    for cell, count in purged:
        echo(f"cell {cell}: purged {count}")
    return reads.finish()


def export(relier: Relier, only: str | None, where: DeadLetterFilter, output: Path | None) -> int:
    """JSON lines as `rl dlq export` writes them, each with its ``cell``, cell by cell."""
    reads = CellReads(relier, only)
    handle = output.open("w") if output is not None else None
    count = 0
    try:
        for cell in reads.names:
            try:
                for line in relier.dead_letters_in(cell).export(where):
                    text = json.dumps({**json.loads(line), "cell": cell}, sort_keys=True)
                    if handle is None:
                        echo(text)
                    else:
                        handle.write(text + "\n")
                    count += 1
            except UNREACHABLE as exc:
                reads.note_unreachable(cell, exc)
    finally:
        if handle is not None:
            handle.close()
    if output is not None:
        echo(f"exported {count} to {output}")
    return reads.finish()
