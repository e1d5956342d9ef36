"""Workers: every registered worker and its pool processes, lease ages, tasks held, draining."""

from __future__ import annotations

from typing import Any

from rich.text import Text

from relier.inspection import WorkerView
from relier_tui.widgets.inflight import lease_cell
from relier_tui.widgets.keyed_table import Cells, KeyedTable

COLUMNS = [("worker / process", "node"), ("host", "host"), ("pid", "pid"), ("pool", "pool"),
           ("queues", "queues"), ("lease", "lease"), ("held", "held"), ("state", "state")]


def worker_rows(workers: list[WorkerView], ttl: float) -> dict[str, Cells]:
    rows: dict[str, Cells] = {}
    for worker in workers:
        expired = worker.lease_age is None or worker.lease_age >= ttl
        state = (Text("draining", style="yellow") if worker.draining
                 else Text("lease expired", style="bold red") if expired else Text("serving", style="green"))
        rows[worker.node] = (worker.node, worker.host, worker.pid, f"{worker.pool} x{worker.concurrency}",
                             ",".join(worker.queues), lease_cell(worker.lease_age, ttl),
                             worker.tasks_held, state)
        for process in worker.processes:
            rows[process.id] = (f"  └ {process.id.rsplit('/', 1)[-1]}", "", "", "", "",
                                lease_cell(process.lease_age, ttl), process.tasks_held, "")
    return rows


class WorkersTable(KeyedTable):
    def __init__(self, lease_ttl: float, **kwargs: Any) -> None:
        super().__init__(COLUMNS, **kwargs)
        self.lease_ttl = lease_ttl

    def show(self, workers: list[WorkerView]) -> None:
        self.sync(worker_rows(workers, self.lease_ttl))
        alive = sum(1 for w in workers if w.lease_age is not None and w.lease_age < self.lease_ttl)
        self.border_subtitle = f"{alive}/{len(workers)} alive"
