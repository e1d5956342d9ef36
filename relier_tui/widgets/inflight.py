"""Inflight tasks: what every worker process holds right now, with lease ages in colour and
number, filterable and sortable; Enter opens a task, `c` and `C` cancel it (after a
confirmation, through `Relier.cancel` in a thread worker)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import redis
from kombu.exceptions import KombuError
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Input, Static

from relier.cell_views import InCell
from relier.inspection import InflightTask
from relier_tui.leases import LeaseBook, LeaseLimits, lease_cell
from relier_tui.screens import ConfirmScreen, DetailScreen
from relier_tui.source import ConsoleSource
from relier_tui.task_sections import task_sections
from relier_tui.task_state import state_cell
from relier_tui.task_view import TaskView
from relier_tui.units import count, duration
from relier_tui.widgets.columns import Column
from relier_tui.widgets.keyed_table import Cells, KeyedTable
from relier_tui.widgets.pane import FilteredPane

#: rows the table holds at most: an operator reads the top of the list or filters, and a
#: Textual DataTable re-renders and re-indexes per change in proportion to its rows
MAX_ROWS = 1000

#: what the operator reads for each reply of `Relier.cancel`
CANCEL_OUTCOMES = {"cancelled": "cancelled", "done": "already ended, nothing changed",
                   "missing": "missing, no such task"}

#: a task's name, state, lease age and run time first and kept longest: at 80 columns the
#: worker, attempt and fence follow, and queue and id show when there is room (Enter shows all)
COLUMNS = [Column("task", "task", priority=0, min_width=16),
           Column("state", "state", priority=1, min_width=8),
           Column("lease", "lease", priority=2, min_width=6),
           Column("running", "running", priority=3, min_width=6),
           Column("worker", "worker", priority=4, min_width=12),
           Column("att", "attempt", priority=5), Column("fence", "fence", priority=6),
           Column("queue", "queue", priority=7, min_width=8),
           Column("id", "id", priority=8, min_width=8)]
#: with RELIER_CELLS, each task's cell comes first and is kept right after its name
CELL_COLUMNS = [Column("cell", "cell", priority=1, min_width=4), *COLUMNS]


def lease_age_of(task: InflightTask, leases: LeaseBook, elapsed: float = 0.0) -> float | None:
    """How long ago the task's holder renewed its lease, now: what the shared `LeaseBook` says
    (re-read on every renewal, as the Workers pane shows it), or for a process it does not know
    (not under a registered worker), the lease age read with the task, aged by the `elapsed`
    seconds since."""
    age = leases.lease_age(task.holder)
    if age is not None:
        return age
    return None if task.lease_age is None else task.lease_age + elapsed


def row_of(task: InflightTask, limits: LeaseLimits, lease_age: float | None,
           elapsed: float = 0.0) -> Cells:
    """The row, with its holder's `lease_age` now; `elapsed` seconds since the task was read age
    its running time. The worker column names the holding process whole (``demo1@vm/1234``):
    two workers on one host differ only by their node name."""
    running = None if task.running_for is None else task.running_for + elapsed
    return (task.task, state_cell(task.state), lease_cell(lease_age, limits),
            Text(duration(running), justify="right"), task.holder, count(task.attempt),
            count(task.fence),
            task.queue, task.id[:8])


def _differs(old: InflightTask | None, new: InflightTask) -> bool:
    return old is None or (old.state, old.attempt, old.fence, old.holder) != (
        new.state, new.attempt, new.fence, new.holder)


class InflightPane(FilteredPane):
    """Pane 1: the inflight tasks; `s` sorts, Enter opens the selected task, `c` cancels it
    and `C` cancels it and stops its running body (each asks first)."""

    TITLE = "Inflight"
    HOME = "#inflight-table"
    BINDINGS = [
        Binding("enter", "open", "Open", key_display="enter",
                tooltip="Open the selected task: state, lease and its age, arguments decoded, "
                        "checkpoint, attempts"),
        Binding("s", "sort", "Sort", tooltip="Sort the table by the next column"),
        Binding("c", "cancel_task", "Cancel",
                tooltip="Cancel (revoke) the selected task: it never runs again (asks first)"),
        Binding("C", "cancel_and_terminate", "Cancel + terminate",
                tooltip="Cancel the selected task and stop its running body too (asks first)"),
    ]

    def __init__(self, limits: LeaseLimits, leases: LeaseBook, source: ConsoleSource, *,
                 cell_source: Callable[[str], ConsoleSource] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        #: with RELIER_CELLS: the source of each cell (a task is opened in its own cell), and
        #: each task's cell by id (ids are unique across cells: placed by their hash)
        self.cell_source = cell_source
        self.cell_of: dict[str, str] = {}
        self.limits = limits
        #: every process's lease age, shared with the Workers pane (the app records reads in it)
        self.leases = leases
        self.source = source
        self.tasks: dict[str, InflightTask] = {}
        self.read_at: dict[str, float] = {}
        #: ids whose state the last update changed (for `python -m bench tui`)
        self.changed: list[str] = []

    @property
    def clock(self) -> Callable[[], float]:
        """Seconds on a monotonic clock: what ages the rows between reads (the `LeaseBook`'s,
        so running times and lease ages move together)."""
        return self.leases.clock

    def compose(self) -> ComposeResult:
        """The filter box, the count line and the table."""
        yield Input(placeholder="/ filter: queue=default worker=w1 charge", id="inflight-filter",
                    classes="filter")
        yield Static("", id="inflight-status", classes="status")
        yield KeyedTable(COLUMNS if self.cell_source is None else CELL_COLUMNS,
                         volatile=("lease", "running"), id="inflight-table")

    def on_mount(self) -> None:
        """Age the lease and running times every second."""
        self.set_interval(1.0, self.refresh_ages)

    def refresh_ages(self) -> None:
        """Lease and running ages of the rows on screen as of now: leases from the shared
        `LeaseBook`, running times aged by the time since their read."""
        now = self.clock()

        def cells_for(task_id: str) -> Cells | None:
            task = self.tasks.get(task_id)
            if task is None:
                return None
            return self._row(task, now - self.read_at.get(task_id, now))

        self.table.refresh_volatile(cells_for)

    @property
    def table(self) -> KeyedTable:
        """The inflight table."""
        return self.query_one(KeyedTable)

    def _row(self, task: InflightTask, elapsed: float = 0.0) -> Cells:
        row = row_of(task, self.limits, lease_age_of(task, self.leases, elapsed), elapsed)
        return row if self.cell_source is None else (self.cell_of.get(task.id, ""), *row)

    def _visible(self, task: InflightTask) -> bool:
        if self.where.is_empty:
            return True
        fields: dict[str, object] = {
            "task": task.task, "id": task.id, "queue": task.queue, "worker": task.holder,
            "state": task.state, "attempt": task.attempt}
        if self.cell_source is not None:
            fields["cell"] = self.cell_of.get(task.id, "")
        return self.where.matches(fields)

    def replace_in_cells(self, tasks: list[InCell[InflightTask]],
                         read_started: float | None = None) -> None:
        """Every inflight task of the cells that answered, each with its cell (RELIER_CELLS):
        as `replace`; tasks of a cell that did not answer leave the table."""
        self.cell_of = {task.id: cell for cell, task in tasks}
        self.replace([task for _, task in tasks], read_started)

    def _source_of(self, task_id: str) -> ConsoleSource:
        """The source of the task's cell (the console's own without cells)."""
        cell = self.cell_of.get(task_id)
        if self.cell_source is None or cell is None:
            return self.source
        return self.cell_source(cell)

    def replace(self, tasks: list[InflightTask], read_started: float | None = None) -> None:
        """Every inflight task (longest running first); the table shows the first MAX_ROWS
        that match the filter. Rows updated by key since `read_started` (monotonic) are newer
        than this snapshot and kept as they are."""
        now = self.clock()
        newer = {} if read_started is None else {
            task_id: task for task_id, task in self.tasks.items()
            if self.read_at.get(task_id, 0.0) > read_started}
        read_at = {task_id: at for task_id, at in self.read_at.items() if task_id in newer}
        previous = self.tasks
        self.tasks = {task.id: newer.get(task.id, task) for task in tasks}
        self.changed = [task_id for task_id, task in self.tasks.items()
                        if _differs(previous.get(task_id), task)]
        self.tasks.update(newer)
        self.read_at = {task_id: read_at.get(task_id, now) for task_id in self.tasks}
        self._show_rows()

    def _show_rows(self) -> None:
        """The table shows the first MAX_ROWS tasks the filter matches, their ages as of now."""
        now = self.clock()
        shown = [task for task in self.tasks.values() if self._visible(task)][:MAX_ROWS]
        self.table.sync({task.id: self._row(task, now - self.read_at.get(task.id, now))
                         for task in shown})
        self.refresh_ages()  # `sync` leaves the ages of rows already shown to it
        self._count()

    def _count(self) -> None:
        shown, total = len(self.table.keys), len(self.tasks)
        text = f"{total} inflight"
        if shown < total:
            text += f", {shown} shown" + (" (the longest running; filter to narrow)"
                                           if shown == MAX_ROWS else " (filtered)")
        self.query_one("#inflight-status", Static).update(text)

    def update_rows(self, rows: dict[str, InflightTask | None]) -> None:
        """Apply re-read records by id (None: the task is no longer inflight)."""
        self.changed = [task_id for task_id, task in rows.items()
                        if task is not None and _differs(self.tasks.get(task_id), task)]
        for task_id, task in rows.items():
            if task is None:
                self.tasks.pop(task_id, None)
                self.read_at.pop(task_id, None)
                self.table.discard(task_id)
            else:
                self.tasks[task_id] = task
                self.read_at[task_id] = self.clock()
                shown = task_id in self.table.keys_set
                if self._visible(task) and (shown or len(self.table.keys_set) < MAX_ROWS):
                    self.table.upsert(task_id, self._row(task))
                else:
                    self.table.discard(task_id)
        self._count()

    def apply_filter(self) -> None:
        """Re-select the rows the new filter matches (each as last read, aged since)."""
        self._show_rows()

    def action_sort(self) -> None:
        """Sort the table by its next column."""
        self.tell(f"sorted by {self.table.cycle_sort()}", timeout=2)

    def action_open(self) -> None:
        """Open the selected task in a detail view."""
        key = self.table.selected_key()
        if key is None:
            self.tell("select a task first", severity="warning")
            return
        self.open_task(key)

    def on_data_table_row_selected(self, event: KeyedTable.RowSelected) -> None:
        """A click on the selected row opens it too."""
        event.stop()
        self.action_open()

    @work(thread=True, group="detail", name="open task", exit_on_error=False)
    def open_task(self, task_id: str) -> None:
        """Read the task (in a thread) and show it, decoded."""
        try:
            view = self._source_of(task_id).task_view(task_id)
        except redis.RedisError as exc:
            self.tell_from_thread(f"cannot read {task_id}: {exc}", severity="error")
            return
        if view is None:
            self.tell_from_thread(f"{task_id} has no record any more", severity="warning")
            return
        self.app.call_from_thread(self.show_task, view)

    def show_task(self, view: TaskView) -> None:
        """The task's detail view, its holder's lease age the one the Inflight and Workers panes
        show (the shared `LeaseBook`'s, when it knows the process)."""
        holder_age = self.leases.lease_age(view.holder) if view.holder else None
        if holder_age is not None:
            view = dataclasses.replace(view, lease_age=holder_age)
        self.app.push_screen(DetailScreen(f"task {view.id}", task_sections(view, self.limits)))

    def selected(self) -> InflightTask | None:
        """The inflight task under the cursor."""
        key = self.table.selected_key()
        return None if key is None else self.tasks.get(key)

    def action_cancel_task(self) -> None:
        """Cancel (revoke) the selected task, after a confirmation: it never runs again."""
        self._confirm_cancel(terminate=False)

    def action_cancel_and_terminate(self) -> None:
        """Cancel the selected task and stop its running body, after a confirmation."""
        self._confirm_cancel(terminate=True)

    def _confirm_cancel(self, *, terminate: bool) -> None:
        task = self.selected()
        if task is None:
            self.tell("select a task first", severity="warning")
            return
        worker = task.holder.split("@", 1)[-1] if "@" in task.holder else task.holder
        if terminate:
            question = (f"Revoke {task.task} {task.id} ({task.state} on {worker}) and terminate it? "
                        "It will never run again, and if its body is running, its worker stops it "
                        "now (the pool process is signalled).")
        elif task.state == "running":
            question = (f"Revoke {task.task} {task.id} (running on {worker})? It will never run "
                        "again. Its running body is not stopped: it runs to its end and its result "
                        "is discarded (C stops it too).")
        else:
            question = (f"Revoke {task.task} {task.id} ({task.state} on {worker})? It has not "
                        "started and will never run.")

        def cancel_if_confirmed(yes: bool | None) -> None:
            if yes:
                self._cancel(task, terminate=terminate)

        self.app.push_screen(ConfirmScreen(question, confirm_label="Revoke + terminate" if terminate
                                           else "Revoke"), cancel_if_confirmed)

    @work(thread=True, group="inflight-action", name="cancel", exit_on_error=False)
    def _cancel(self, task: InflightTask, *, terminate: bool) -> None:
        try:
            reply = self._source_of(task.id).cancel(task.id, terminate=terminate)
        except (redis.RedisError, OSError, KombuError) as exc:
            # the record may be cancelled already and only the revoke broadcast failed: re-read
            self.tell_from_thread(f"cancel {task.id[:8]} failed: {exc}", severity="error")
        else:
            outcome = CANCEL_OUTCOMES.get(reply, reply)
            if reply == "cancelled" and terminate:
                outcome += " (terminate sent to its worker)"
            self.tell_from_thread(f"cancel {task.task} {task.id[:8]}: {outcome}",
                                  severity="information" if reply == "cancelled" else "warning")
        self.post_message(self.ReloadRequested())
