"""The console across cells (RELIER_CELLS): every cell read in parallel, each cell's health
(answering or not, Redis memory), and the line that shows them. A cell that does not answer
is reported and its rows leave the panes; the others are read and shown as usual."""

from __future__ import annotations

from dataclasses import dataclass, field

import redis
from rich.text import Text

from relier import inspection
from relier.binding import Relier
from relier.cell_views import InCell, flatten, longest_running, newest_dead_letters
from relier.display import safe_text
from relier.dlq import DeadLetter, DeadLetterFilter
from relier.preflight import MemoryHeadroom, memory_headroom
from relier_tui.source import ConsoleSource
from relier_tui.widgets.health import memory_cell

#: What a cell that does not answer raises (refused, timed out, loading, gone mid-read).
UNREACHABLE = (redis.RedisError, OSError)
#: dead letters read (per cell) and shown (over every cell) at most, as with one Redis
DEAD_LETTER_ROWS = 500


@dataclass(frozen=True, slots=True)
class CellHealth:
    """One cell as last read: whether it answered (else why not) and its Redis memory."""

    name: str
    is_reachable: bool
    error: str = ""
    memory: MemoryHeadroom | None = None


@dataclass(frozen=True, slots=True)
class CellRead:
    """One read of one cell: its health, and its rows if it answered."""

    health: CellHealth
    workers: list[inspection.WorkerView] = field(default_factory=list)
    inflight: list[inspection.InflightTask] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    dead_letter_total: int = 0


@dataclass(frozen=True, slots=True)
class CellsRead:
    """The last read of every cell, merged: each cell's health (in RELIER_CELLS order), and
    the rows of those that answered, each with its cell."""

    health: list[CellHealth]
    workers: list[InCell[inspection.WorkerView]]
    inflight: list[InCell[inspection.InflightTask]]
    dead_letters: list[InCell[DeadLetter]]
    dead_letter_total: int


def merged(reads: dict[str, CellRead], names: tuple[str, ...], limit: int = 20000,
           dead_letter_limit: int = DEAD_LETTER_ROWS) -> CellsRead:
    """The cells' last reads as one view (a cell not read yet is left out); inflight tasks:
    the `limit` longest running over every cell, dead letters the newest
    `dead_letter_limit`."""
    known = [(name, reads[name]) for name in names if name in reads]
    return CellsRead(
        health=[read.health for _, read in known],
        workers=flatten((name, read.workers) for name, read in known),
        inflight=longest_running(((name, read.inflight) for name, read in known), limit=limit),
        dead_letters=newest_dead_letters(((name, read.dead_letters) for name, read in known),
                                         limit=dead_letter_limit),
        dead_letter_total=sum(read.dead_letter_total for _, read in known))


class CellReader:
    """Reads one cell at a time for the console (the app runs a loop per cell, so a cell slow
    to answer never holds back the others); `source(cell)` acts in one cell."""

    def __init__(self, relier: Relier) -> None:
        self.relier = relier
        #: every cell's name, in RELIER_CELLS order
        self.names = relier.cells.names
        self._sources: dict[str, ConsoleSource] = {}

    def source(self, cell: str) -> ConsoleSource:
        """The console's window on one cell (its task records, dead letters, cancels)."""
        source = self._sources.get(cell)
        if source is None:
            source = ConsoleSource(self.relier, store=self.relier.cells.runtime(cell).store,
                                   dead_letters=self.relier.dead_letters_in(cell))
            self._sources[cell] = source
        return source

    def read(self, cell: str, dead_letter_filter: DeadLetterFilter | None = None,
             limit: int = 20000) -> CellRead:
        """The cell's workers, inflight tasks, dead letters (the newest that
        `dead_letter_filter` selects, and how many it holds) and memory; a cell that does not
        answer is a read with its error and no rows."""
        store = self.relier.cells.runtime(cell).store
        try:
            try:
                memory: MemoryHeadroom | None = memory_headroom(store.client.info("memory"))
            except redis.ResponseError:  # INFO refused by an ACL: memory unknown, it answers
                memory = None
            workers = inspection.workers(store)
            inflight = inspection.inflight(store, limit=limit)
            source = self.source(cell)
            dead_letters = source.dead_letter_list(dead_letter_filter, limit=DEAD_LETTER_ROWS)
            dead_letter_total = source.dead_letters_api.count()
        except UNREACHABLE as exc:
            return CellRead(CellHealth(cell, False, f"{type(exc).__name__}: {exc}"))
        return CellRead(CellHealth(cell, True, memory=memory), workers, inflight, dead_letters,
                        dead_letter_total)


def cells_line(health: list[CellHealth], memory_warning: float, home: str = "") -> Text:
    """``cells east ok mem 1/512 MiB 0% · west unreachable``: each cell's state, and the memory
    of those that answered (coloured as the header's, the number always shown); then which
    cell the rest of the header reads (`home`)."""
    line = Text(" cells ")
    for index, cell in enumerate(health):
        if index:
            line.append(" · ")
        line.append(safe_text(cell.name), style="bold")
        if cell.is_reachable:
            line.append(" ok ", style="green")
            line.append_text(memory_cell(cell.memory, memory_warning))
        else:
            line.append(" unreachable", style="bold red")
    if home:
        line.append(f"  (below: cell {safe_text(home)})", style="dim")
    return line
