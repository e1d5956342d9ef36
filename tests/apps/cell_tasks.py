"""Tasks for the cells tests, declared on any `Relier` (the workers' and the test's own).

Every body counts its run in its own cell's Redis (``test:exec:<task id>``) and writes the
cell its worker serves (``test:cell:<task id>``), so a test sees duplicates and misplacements.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from relier import Relier, RelierTask, current_context

#: The queue every cells-test task goes to (the workers consume it alone).
QUEUE = "cells"


@dataclass(frozen=True, slots=True)
class CellTasks:
    record: RelierTask
    for_customer: RelierTask
    once: RelierTask
    add: RelierTask
    total: RelierTask
    fail: RelierTask


def declare(relier: Relier) -> CellTasks:
    """Declare the cells-test tasks on `relier`."""

    def count() -> str:
        """Count this run in the worker's own cell; return that cell's name."""
        task_id = current_context().task_id
        cell = os.environ.get("RELIER_CELL", "")
        client = relier.runtime.store.client
        client.incr(f"test:exec:{task_id}")
        client.set(f"test:cell:{task_id}", cell)
        return cell

    def record(label: int) -> str:
        return count()

    def for_customer(customer: str) -> str:
        return count()

    def once(order: str) -> str:
        return count()

    def add(a: int, b: int) -> int:
        count()
        return a + b

    def total(values: list[int]) -> dict[str, int | str]:
        return {"sum": sum(values), "cell": count()}

    def fail(label: str) -> str:
        count()
        raise RuntimeError(f"cells test failure {label}")

    return CellTasks(
        record=relier.task(record, name="cells.record", queue=QUEUE),
        for_customer=relier.task(for_customer, name="cells.for_customer", queue=QUEUE,
                                 cell_key=lambda customer: customer),
        once=relier.task(once, name="cells.once", queue=QUEUE, idempotent=True),
        add=relier.task(add, name="cells.add", queue=QUEUE),
        total=relier.task(total, name="cells.total", queue=QUEUE),
        fail=relier.task(fail, name="cells.fail", queue=QUEUE),
    )
