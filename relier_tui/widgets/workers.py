"""Workers: every registered worker and its pool processes, lease ages, tasks held, draining;
filterable and sortable."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Input

from relier.inspection import WorkerView
from relier_tui.filters import Filter
from relier_tui.leases import LeaseLimits, lease_cell
from relier_tui.widgets.columns import Column
from relier_tui.widgets.keyed_table import Cells, KeyedTable
from relier_tui.widgets.pane import FilteredPane

#: health first (lease, tasks held, state), kept longest: at 80 columns pool and queues follow
COLUMNS = [Column("worker / process", "node", priority=0, min_width=20),
           Column("lease", "lease", priority=2, min_width=6),
           Column("held", "held", priority=3),
           Column("state", "state", priority=1, min_width=8),
           Column("pool", "pool", priority=4, min_width=8),
           Column("queues", "queues", priority=5, min_width=12),
           Column("host", "host", priority=6, min_width=8), Column("pid", "pid", priority=7)]


def _state(worker: WorkerView, ttl: float) -> str:
    """``dead`` once its lease is older than the TTL or reaped (`relier.inspection`'s rule):
    listed with how long ago it was last seen until the resurrector forgets it."""
    expired = worker.is_dead or worker.lease_age is None or worker.lease_age >= ttl
    return "draining" if worker.draining else "dead" if expired else "serving"


def _seen(worker: WorkerView) -> float | None:
    """The lease's age, or once the lease was reaped, the time since it was last refreshed."""
    return worker.lease_age if worker.lease_age is not None else worker.last_seen_age


def matches(worker: WorkerView, where: Filter, ttl: float) -> bool:
    """Whether the filter selects the worker: ``queue=`` is one of its queues, other terms
    match its node (``worker=``), host, pid, pool or state, words any of them."""
    queue = where.fields.get("queue")
    if queue is not None and queue not in worker.queues:
        return False
    rest = Filter({key: value for key, value in where.fields.items() if key != "queue"}, where.words)
    return rest.is_empty or rest.matches(
        {"worker": worker.node, "host": worker.host, "pid": worker.pid, "pool": worker.pool,
         "queues": ",".join(worker.queues), "state": _state(worker, ttl)})


def worker_rows(workers: list[WorkerView], limits: LeaseLimits) -> dict[str, Cells]:
    """Each worker's row, then one row per pool process under it."""
    rows: dict[str, Cells] = {}
    styles = {"draining": "yellow", "dead": "bold red", "serving": "green"}
    for worker in workers:
        state = _state(worker, limits.ttl)
        rows[worker.node] = (worker.node, lease_cell(_seen(worker), limits), worker.tasks_held,
                             Text(state, style=styles[state]), f"{worker.pool} x{worker.concurrency}",
                             ",".join(worker.queues), worker.host, worker.pid)
        for process in worker.processes:
            rows[process.id] = (f"  └ {process.id.rsplit('/', 1)[-1]}", lease_cell(process.lease_age, limits),
                                process.tasks_held, "", "", "", "", "")
    return rows


class WorkersPane(FilteredPane):
    """Pane 2: the workers and their processes; `s` sorts, `/` filters."""

    TITLE = "Workers"
    HOME = "#workers-table"
    BINDINGS = [Binding("s", "sort", "Sort", tooltip="Sort the table by the next column")]

    def __init__(self, limits: LeaseLimits, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.limits = limits
        self.worker_views: list[WorkerView] = []

    def compose(self) -> ComposeResult:
        """The filter box and the table."""
        yield Input(placeholder="/ filter: queue=default state=draining host=vm1", id="workers-filter",
                    classes="filter")
        yield KeyedTable(COLUMNS, id="workers-table")

    @property
    def table(self) -> KeyedTable:
        """The workers table."""
        return self.query_one(KeyedTable)

    def show(self, workers: list[WorkerView]) -> None:
        """The workers as read; the filter selects which are shown."""
        self.worker_views = workers
        self.table.sync(worker_rows([w for w in workers if matches(w, self.where, self.limits.ttl)],
                                    self.limits))

    def apply_filter(self) -> None:
        """Re-select the workers the new filter matches."""
        self.show(self.worker_views)

    def action_sort(self) -> None:
        """Sort the table by its next column."""
        self.tell(f"sorted by {self.table.cycle_sort()}", timeout=2)
