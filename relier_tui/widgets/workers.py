"""Workers: every registered worker and its pool processes, lease ages, tasks held, draining;
filterable and sortable."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Input

from relier.inspection import WorkerView
from relier_tui.filters import Filter
from relier_tui.leases import LeaseBook, LeaseLimits, lease_cell
from relier_tui.units import count
from relier_tui.widgets.columns import Column
from relier_tui.widgets.keyed_table import Cells, KeyedTable
from relier_tui.widgets.pane import FilteredPane

#: health first (state, lease, tasks held) and the pid (what `kill` and a profiler take), kept
#: longest: at 80 columns pool and queues follow; the host is in the worker's name anyway. The
#: pid is shown whole or not at all: a cut pid names no process.
COLUMNS = [Column("worker / process", "node", priority=0, min_width=20),
           Column("lease", "lease", priority=2, min_width=6),
           Column("held", "held", priority=3),
           Column("state", "state", priority=1, min_width=8),
           Column("pool", "pool", priority=5, min_width=8),
           Column("queues", "queues", priority=6, min_width=12),
           Column("host", "host", priority=7, min_width=8),
           Column("pid", "pid", priority=4, whole=True)]
#: with RELIER_CELLS, the cell a worker serves comes first and is kept right after its name
CELL_COLUMNS = [Column("cell", "cell", priority=1, min_width=4), *COLUMNS]
STYLES = {"draining": "yellow", "dead": "bold red", "serving": "green"}


def _state(worker: WorkerView, lease_age: float | None, ttl: float) -> str:
    """``dead`` once its lease is older than the TTL or reaped (`relier.inspection`'s rule, on
    the lease's age now): listed with how long ago it was last seen until the resurrector
    forgets it."""
    expired = lease_age is None or lease_age >= ttl
    return "draining" if worker.draining else "dead" if expired else "serving"


def matches(worker: WorkerView, where: Filter, state: str, cell: str | None = None) -> bool:
    """Whether the filter selects the worker: ``queue=`` is one of its queues, other terms
    match its node (``worker=``), host, pid, pool, `state` or `cell` (with cells), words any
    of them."""
    queue = where.fields.get("queue")
    if queue is not None and queue not in worker.queues:
        return False
    rest = Filter({key: value for key, value in where.fields.items() if key != "queue"}, where.words)
    fields: dict[str, object] = {
        "worker": worker.node, "host": worker.host, "pid": worker.pid, "pool": worker.pool,
        "queues": ",".join(worker.queues), "state": state}
    if cell is not None:
        fields["cell"] = cell
    return rest.is_empty or rest.matches(fields)


def worker_rows(workers: list[WorkerView], limits: LeaseLimits, leases: LeaseBook,
                where: Filter | None = None, *,
                cells: Sequence[str] | None = None) -> dict[str, Cells]:
    """Each worker's row, then one row per pool process under it, with lease ages as `leases`
    gives them now (a dead worker's: how long ago it was last seen); only the workers `where`
    selects. With `cells` (the cell of each worker, RELIER_CELLS), rows start with the cell
    and are keyed ``cell/node``: two cells may hold workers of the same name."""
    rows: dict[str, Cells] = {}
    for index, worker in enumerate(workers):
        cell = None if cells is None else cells[index]
        state = _state(worker, leases.lease_age(worker.node), limits.ttl)
        if where is not None and not matches(worker, where, state, cell):
            continue
        prefix, lead = ("", ()) if cell is None else (f"{cell}/", (cell,))
        rows[prefix + worker.node] = (*lead, worker.node,
                                      lease_cell(leases.seen_age(worker.node), limits),
                                      worker.tasks_held, Text(state, style=STYLES[state]),
                                      f"{worker.pool} x{count(worker.concurrency)}",
                                      ",".join(worker.queues), worker.host, count(worker.pid))
        for process in worker.processes:
            rows[prefix + process.id] = (*("" for _ in lead),
                                         f"  └ {process.id.rsplit('/', 1)[-1]}",
                                         lease_cell(leases.lease_age(process.id), limits),
                                         process.tasks_held, "", "", "", "", "")
    return rows


class WorkersPane(FilteredPane):
    """Pane 2: the workers and their processes; `s` sorts, `/` filters."""

    TITLE = "Workers"
    HOME = "#workers-table"
    BINDINGS = [Binding("s", "sort", "Sort", tooltip="Sort the table by the next column")]

    def __init__(self, limits: LeaseLimits, leases: LeaseBook, *, has_cells: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        #: with RELIER_CELLS: a cell column, and `cells` names each worker's cell
        self.has_cells = has_cells
        self.cells: list[str] | None = None
        self.limits = limits
        #: every process's lease age, shared with the Inflight pane (the app records reads in it)
        self.leases = leases
        self.worker_views: list[WorkerView] = []

    def compose(self) -> ComposeResult:
        """The filter box and the table."""
        yield Input(placeholder="/ filter: queue=default state=draining host=vm1", id="workers-filter",
                    classes="filter")
        yield KeyedTable(CELL_COLUMNS if self.has_cells else COLUMNS, volatile=("lease", "state"),
                         id="workers-table")

    def on_mount(self) -> None:
        """Age the leases every second: a dead worker's too, though nothing renews it."""
        self.set_interval(1.0, self.refresh_ages)

    @property
    def table(self) -> KeyedTable:
        """The workers table."""
        return self.query_one(KeyedTable)

    def show(self, workers: list[WorkerView], cells: list[str] | None = None) -> None:
        """The workers as read (their leases already recorded in the shared `LeaseBook`); the
        filter selects which are shown. With cells, `cells` names each worker's cell."""
        self.worker_views = workers
        self.cells = cells if self.has_cells else None
        rows = worker_rows(workers, self.limits, self.leases, self.where, cells=self.cells)
        self.table.sync(rows)
        self.table.refresh_volatile(rows.get)  # `sync` leaves the ages of rows already shown

    def refresh_ages(self) -> None:
        """Lease ages (and so states) of the rows on screen as of now; which workers the filter
        selects is decided at each read."""
        self.table.refresh_volatile(
            worker_rows(self.worker_views, self.limits, self.leases, cells=self.cells).get)

    def apply_filter(self) -> None:
        """Re-select the workers the new filter matches."""
        self.show(self.worker_views, self.cells)

    def action_sort(self) -> None:
        """Sort the table by its next column."""
        self.tell(f"sorted by {self.table.cycle_sort()}", timeout=2)
