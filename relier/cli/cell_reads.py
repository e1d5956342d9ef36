"""Reading every cell for an ``rl`` command: `--cell`, the reads in parallel, and the one
line per cell that did not answer.

Commands with RELIER_CELLS read each cell (or the one `--cell` names), merge the rows with a
``cell`` column (a ``cell`` field in JSON), report each cell that did not answer on one line
of standard error (``cell west: unreachable (...)``) after the others' rows, and exit 1 when
some cell did not answer (0 when every one did). A `--cell` that is not in RELIER_CELLS is
a usage error (exit 2). Without RELIER_CELLS the commands print what they always printed.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import click
import redis

from relier.binding import Relier
from relier.cli.output import echo
from relier.runtime import Runtime

T = TypeVar("T")

#: What a cell that does not answer raises (refused, timed out, loading, gone mid-read).
UNREACHABLE = (redis.ConnectionError, redis.TimeoutError)
#: Exit status when some cell did not answer (the others' rows were printed).
EXIT_SOME_UNREACHABLE = 1

cell_option = click.option(
    "--cell", "cell", metavar="NAME", default=None,
    help="With RELIER_CELLS: only this cell (default: every cell, merged, with a cell column).")


def is_across_cells(relier: Relier, cell: str | None) -> bool:
    """Whether a command reads cells (RELIER_CELLS is set); `--cell` without cells is a
    usage error."""
    if cell is not None and not relier.cells.is_sharded:
        raise click.UsageError(f"--cell {cell}: RELIER_CELLS is not set (one Redis, no cells)")
    return relier.cells.is_sharded


class CellReads:
    """The cells one command reads, and those that did not answer."""

    def __init__(self, relier: Relier, only: str | None) -> None:
        self.relier = relier
        try:
            #: the cells read, in RELIER_CELLS order
            self.names = relier.cells.selected(only)
        except ValueError as exc:
            raise click.UsageError(f"--cell: {exc}") from None
        #: cell -> why it did not answer
        self.unreachable: dict[str, str] = {}

    def runtime(self, cell: str) -> Runtime:
        return self.relier.cells.runtime(cell)

    def note_unreachable(self, cell: str, exc: BaseException) -> None:
        self.unreachable.setdefault(cell, f"{type(exc).__name__}: {exc}")

    def read(self, read: Callable[[Runtime], T]) -> list[tuple[str, T]]:
        """`read(runtime)` in every cell at once; (cell, answer) for those that answered, in
        cell order. A cell that did not answer is noted (see `finish`)."""
        runtimes = {cell: self.runtime(cell) for cell in self.names if cell not in self.unreachable}
        with ThreadPoolExecutor(max_workers=max(1, len(runtimes))) as pool:
            futures = {cell: pool.submit(read, runtime) for cell, runtime in runtimes.items()}
        answers = []
        for cell, future in futures.items():
            try:
                answers.append((cell, future.result()))
            except UNREACHABLE as exc:
                self.note_unreachable(cell, exc)
        return answers

    def report(self) -> None:
        """One line of standard error per cell that did not answer."""
        for cell, why in self.unreachable.items():
            echo(f"cell {cell}: unreachable ({why})", err=True)

    def finish(self) -> int:
        """Report the cells that did not answer; the command's exit status."""
        self.report()
        return EXIT_SOME_UNREACHABLE if self.unreachable else 0
