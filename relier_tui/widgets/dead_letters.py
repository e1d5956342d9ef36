"""Dead letters: reason, task, age; Enter for the traceback and history; release, retry-all and
purge act on the selection or the filter, after a confirmation, in thread workers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import redis
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Input, Static

from relier.cell_views import InCell
from relier.dlq import DeadLetter, DeadLetterFilter, ReleaseReport
from relier_tui.filters import Filter
from relier_tui.screens import ConfirmScreen, DetailScreen
from relier_tui.source import ConsoleSource
from relier_tui.task_sections import task_sections
from relier_tui.units import count, duration
from relier_tui.widgets.columns import Column
from relier_tui.widgets.keyed_table import Cells, KeyedTable
from relier_tui.widgets.pane import FilteredPane

#: what a dead letter is and whether it can go back first; at 80 columns the error follows, cut
COLUMNS = [Column("task", "task", priority=0, min_width=16),
           Column("id", "id", priority=7, min_width=8),
           Column("reason", "reason", priority=1, min_width=12),
           Column("queue", "queue", priority=6, min_width=8),
           Column("age", "age", priority=2, min_width=6),
           Column("att", "attempts", priority=4),
           Column("releasable", "releasable", priority=3),
           Column("error", "error", priority=5, min_width=12)]
#: with RELIER_CELLS, each dead letter's cell comes first and is kept right after its task
CELL_COLUMNS = [Column("cell", "cell", priority=1, min_width=4), *COLUMNS]
FILTER_KEYS = {"reason", "task", "queue", "older_than", "newer_than"}


def dead_letter_filter(where: Filter) -> DeadLetterFilter | None:
    """The relier filter for the box's key=value terms (free words are not supported by the
    server-side operations, so they only narrow what is shown)."""
    fields = {key: value for key, value in where.fields.items() if key in FILTER_KEYS}
    if not fields:
        return None
    try:
        older = float(fields["older_than"]) if "older_than" in fields else None
        newer = float(fields["newer_than"]) if "newer_than" in fields else None
    except ValueError:
        return None  # a half-typed number: no server filter until it is one
    return DeadLetterFilter(reason=fields.get("reason"), task=fields.get("task"),
                            queue=fields.get("queue"), older_than=older, newer_than=newer)


def row_of(entry: DeadLetter) -> Cells:
    """The table row of one dead letter."""
    releasable = Text("yes", style="green") if entry.releasable else Text("no", style="red")
    return (entry.task, entry.id[:8], Text(entry.reason, style="bold"), entry.queue,
            Text(duration(entry.age_seconds()), justify="right"), count(entry.attempts), releasable,
            entry.error[:200])


class DeadLettersPane(FilteredPane):
    """Pane 4: the dead letters; Enter opens one, `r` releases it, `a` and `x` retry or purge
    every entry the filter matches (each asks first)."""

    TITLE = "Dead letters"
    TAB = "DLQ"
    HOME = "#dlq-table"
    BINDINGS = [
        Binding("enter", "open", "Open", key_display="enter",
                tooltip="Open the selected dead letter: reason, error and traceback, arguments "
                        "decoded, checkpoint, attempts"),
        Binding("s", "sort", "Sort", tooltip="Sort the table by the next column"),
        Binding("r", "release", "Release",
                tooltip="Release the selected dead letter to its queue (asks first)"),
        Binding("a", "retry_all", "Retry all",
                tooltip="Release every dead letter matching the filter (asks first)"),
        Binding("x", "purge", "Purge", tooltip="Delete every dead letter matching the filter (asks first)"),
    ]

    def __init__(self, source: ConsoleSource, *, cells: tuple[str, ...] = (),
                 cell_source: Callable[[str], ConsoleSource] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        #: with RELIER_CELLS: every cell's name, the source of each (a dead letter is opened
        #: and released in its own cell) and each dead letter's cell by id
        self.cells = cells
        self.cell_source = cell_source
        self.cell_of: dict[str, str] = {}
        self.source = source
        self.entries: dict[str, DeadLetter] = {}
        self.total = 0
        self._asked_for: DeadLetterFilter | None = None

    def compose(self) -> ComposeResult:
        """The filter box and the table."""
        yield Input(placeholder="/ filter: reason=hard_timeout task=billing.charge queue=default",
                    id="dlq-filter", classes="filter")
        yield Static("", id="dlq-status", classes="status")
        yield KeyedTable(CELL_COLUMNS if self.cells else COLUMNS, id="dlq-table")

    @property
    def table(self) -> KeyedTable:
        """The dead-letter table."""
        return self.query_one(KeyedTable)

    @property
    def server_filter(self) -> DeadLetterFilter | None:
        """The filter's terms that relier's dead-letter operations apply (None: every entry)."""
        return dead_letter_filter(self.where)

    def show(self, entries: list[DeadLetter], total: int) -> None:
        """The entries as read with `server_filter`, narrowed by the filter's free words (and
        ``cell=``, with cells)."""
        self.entries = {entry.id: entry for entry in entries}
        self.total = total
        words = Filter(words=self.where.words)
        if not self.cells:
            self.table.sync({entry.id: row_of(entry) for entry in entries
                             if words.is_empty or words.matches(entry.as_dict())})
        else:
            only = self.where.fields.get("cell")
            in_cell = {entry.id: self.cell_of.get(entry.id, "") for entry in entries}
            self.table.sync({entry.id: (in_cell[entry.id], *row_of(entry)) for entry in entries
                             if (only is None or in_cell[entry.id] == only) and (
                                 words.is_empty
                                 or words.matches({**entry.as_dict(), "cell": in_cell[entry.id]}))})
        shown = len(self.table.keys)
        text = f"{total} dead letter{'s' if total != 1 else ''}"
        if not self.where.is_empty:
            text += f", {shown} shown (filtered)"
        elif shown < total:
            text += f", the newest {shown} shown (filter to narrow)"
        self.query_one("#dlq-status", Static).update(text)

    def show_in_cells(self, entries: list[InCell[DeadLetter]], total: int) -> None:
        """Every cell's dead letters (those of the cells that answered), each with its cell,
        and their count over those cells (RELIER_CELLS): as `show`."""
        self.cell_of = {entry.id: cell for cell, entry in entries}
        self.show([entry for _, entry in entries], total)

    def _source_of(self, task_id: str) -> ConsoleSource:
        """The source of the dead letter's cell (the console's own without cells)."""
        cell = self.cell_of.get(task_id)
        if self.cell_source is None or cell is None:
            return self.source
        return self.cell_source(cell)

    def _bulk_sources(self) -> list[tuple[str, ConsoleSource]]:
        """Where retry-all and purge act: every cell (or the one ``cell=`` names), else the
        console's own Redis."""
        if self.cell_source is None:
            return [("", self.source)]
        only = self.where.fields.get("cell")
        return [(cell, self.cell_source(cell)) for cell in self.cells if only in (None, cell)]

    def selected(self) -> DeadLetter | None:
        """The dead letter under the cursor."""
        key = self.table.selected_key()
        return None if key is None else self.entries.get(key)

    def apply_filter(self) -> None:
        """Words narrow the rows now; a changed server filter asks the app to re-read."""
        self.show(list(self.entries.values()), self.total)
        if self.server_filter != self._asked_for:
            self._asked_for = self.server_filter
            self.post_message(self.ReloadRequested("dead_letters"))

    def action_sort(self) -> None:
        """Sort the table by its next column."""
        self.tell(f"sorted by {self.table.cycle_sort()}", timeout=2)

    def action_open(self) -> None:
        """Open the selected dead letter: reason, traceback, history, record."""
        key = self.table.selected_key()
        if key is None:
            self.tell("select a dead letter first", severity="warning")
            return
        self.open_dead_letter(key)

    def on_data_table_row_selected(self, event: KeyedTable.RowSelected) -> None:
        """A click on the selected row opens it too."""
        event.stop()
        self.action_open()

    @work(thread=True, group="detail", name="open dead letter", exit_on_error=False)
    def open_dead_letter(self, task_id: str) -> None:
        """Read the dead letter (in a thread) and show it as the task it is, decoded."""
        try:
            view = self._source_of(task_id).task_view(task_id)
        except redis.RedisError as exc:
            self.tell_from_thread(f"cannot read {task_id}: {exc}", severity="error")
            return
        if view is None or view.state != "dead_lettered":
            self.tell_from_thread(f"{task_id} is no longer a dead letter", severity="warning")
            return
        screen = DetailScreen(f"dead letter {task_id}", task_sections(view, self.source.lease_limits))
        self.app.call_from_thread(self.app.push_screen, screen)

    def action_release(self) -> None:
        """Release the selected dead letter to its queue, after a confirmation."""
        entry = self.selected()
        if entry is None:
            self.tell("select a dead letter first", severity="warning")
            return
        if not entry.releasable:
            self.tell(f"{entry.id} cannot be released ({entry.reason}: no trusted envelope)",
                      severity="warning")
            return

        def release_if_confirmed(yes: bool | None) -> None:
            if yes:
                self._release(entry)

        self.app.push_screen(ConfirmScreen(f"Release {entry.task} {entry.id} ({entry.reason}) to its queue?",
                                           confirm_label="Release"), release_if_confirmed)

    @work(thread=True, group="dlq-action", name="release", exit_on_error=False)
    def _release(self, entry: DeadLetter) -> None:
        try:
            outcome = self._source_of(entry.id).release(entry.id)
        except redis.RedisError as exc:
            outcome = f"failed: {exc}"
        self.tell_from_thread(f"release {entry.id[:8]}: {outcome}")
        self.post_message(self.ReloadRequested())

    def action_retry_all(self) -> None:
        """Release every dead letter the filter matches, after a confirmation."""
        self._confirm_bulk("retry")

    def action_purge(self) -> None:
        """Delete every dead letter the filter matches, after a confirmation."""
        self._confirm_bulk("purge")

    @work(thread=True, group="dlq-action", name="count dead letters", exit_on_error=False)
    def _confirm_bulk(self, what: str) -> None:
        where = self.server_filter
        sources = self._bulk_sources()
        count = 0
        for cell, source in sources:
            try:
                count += source.count_dead_letters(where)
            except redis.RedisError as exc:
                in_cell = f" in cell {cell}" if cell else ""
                self.tell_from_thread(f"cannot count dead letters{in_cell}: {exc}", severity="error")
                return
        scope = ("matching the filter" if where is not None or len(sources) < len(self.cells)
                 else "(no filter: ALL of them)")
        if self.cells:
            scope += f" in cell{'s' if len(sources) != 1 else ''} " + ", ".join(c for c, _ in sources)
        question = (f"Release {count} dead letters {scope} to their queues (50 per second)?"
                    if what == "retry" else
                    f"Delete {count} dead letters {scope} for good? This cannot be undone.")
        label = "Retry all" if what == "retry" else "Purge"

        def act_if_confirmed(yes: bool | None) -> None:
            if yes:
                self._bulk(what, where, sources)

        self.app.call_from_thread(self.app.push_screen, ConfirmScreen(question, confirm_label=label),
                                  act_if_confirmed)

    @work(thread=True, group="dlq-action", name="retry or purge", exit_on_error=False)
    def _bulk(self, what: str, where: DeadLetterFilter | None,
              sources: list[tuple[str, ConsoleSource]]) -> None:
        report, purged, failures = ReleaseReport(), 0, []
        for cell, source in sources:  # each cell on its own: one that fails leaves the others
            try:
                if what == "retry":
                    done = source.retry_all(where)
                    report.released += done.released
                    report.refused.update(done.refused)
                else:
                    purged += source.purge(where)
            except redis.RedisError as exc:
                failures.append(f"{what} failed{f' in cell {cell}' if cell else ''}: {exc}")
        text = (f"released {len(report.released)}, refused {len(report.refused)}" if what == "retry"
                else f"purged {purged}")
        if failures and not self.cells:
            text = failures[0]
        elif failures:
            text += "; " + "; ".join(failures)
        self.tell_from_thread(text)
        self.post_message(self.ReloadRequested())
