"""Cells against real processes: three Redis servers, a Celery worker per cell.

Each worker runs ``tests/apps/cell_app.py`` with RELIER_CELL set, so its broker is its own
cell's Redis; the test process pushes through its own `Relier(app, cells=...)`. Every body
counts its run in the Redis of the cell whose worker ran it (`cell_tasks`).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis
from celery import Celery, chain, chord, group
from cell_tasks import QUEUE, CellTasks, declare  # tests/apps, on sys.path (conftest)

from relier import CellUnavailableError, Relier, TaskHandle
from relier.testing import CeleryWorker, RedisServer, wait_until
from tests.conftest import APPS_DIR

NAMES = ("east", "west", "north")


@dataclass
class Fleet:
    """Three cells: their servers, a worker each, and a producer that knows all of them."""

    servers: dict[str, RedisServer]
    log_dir: Path
    workers: dict[str, CeleryWorker] = field(default_factory=dict)

    @property
    def cells_env(self) -> str:
        return ",".join(f"{name}={server.url}" for name, server in self.servers.items())

    def start_worker(self, cell: str) -> CeleryWorker:
        worker = CeleryWorker(
            "cell_app", redis_url=self.servers[cell].url, queues=(QUEUE,),
            log_path=self.log_dir / f"worker-{cell}-{len(self.workers)}.log",
            pythonpath=[str(APPS_DIR)],
            env={"RELIER_CELLS": self.cells_env, "RELIER_CELL": cell},
        ).start()
        self.workers[cell] = worker
        return worker

    def client(self, cell: str) -> redis.Redis:
        return self.servers[cell].client()

    def producer(self, names: tuple[str, ...] = NAMES) -> tuple[Relier, CellTasks]:
        app = Celery(f"cells-producer-{'-'.join(names)}", set_as_current=False)
        app.conf.task_default_queue = QUEUE
        relier = Relier(app, cells={name: self.servers[name].url for name in names})
        return relier, declare(relier)


@contextlib.contextmanager
def started_fleet(base: Path, names: tuple[str, ...]) -> Iterator[Fleet]:
    """A Redis server and a ready worker for each cell of `names`, all stopped on exit."""
    servers = {name: RedisServer(base / name).start() for name in names}
    fleet = Fleet(servers, base / "logs")
    try:
        for name in names:
            fleet.start_worker(name)
        for worker in fleet.workers.values():
            worker.wait_ready()
        yield fleet
    finally:
        for worker in fleet.workers.values():
            worker.stop()
        for server in servers.values():
            server.kill()


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    with started_fleet(tmp_path_factory.mktemp("cells"), NAMES) as started:
        yield started


def runs_by_cell(fleet: Fleet, handles: list[TaskHandle],
                 names: tuple[str, ...] = NAMES) -> dict[str, list[int]]:
    """For each of `names`, how many times each task's body ran in that cell (one MGET each)."""
    runs = {}
    for name in names:
        client = fleet.client(name)
        values = client.mget([f"test:exec:{handle.id}" for handle in handles])
        runs[name] = [int(value or 0) for value in values]
        client.close()
    return runs


def wait_for_runs(fleet: Fleet, handles: list[TaskHandle],
                  names: tuple[str, ...]) -> dict[str, list[int]]:
    """Wait until every task's body has run in one of `names`; the runs per cell."""
    def all_ran() -> dict[str, list[int]] | None:
        runs = runs_by_cell(fleet, handles, names)
        ran = [sum(runs[name][index] for name in runs) for index in range(len(handles))]
        return runs if all(ran) else None

    return wait_until(all_ran, timeout=180, interval=0.2,
                      message=lambda: f"not every task ran: {runs_by_cell(fleet, handles, names)}")


def assert_ran_once_in_own_cell(fleet: Fleet, handles: list[TaskHandle],
                                names: tuple[str, ...] = NAMES) -> None:
    """Each task ran exactly once, in the cell its id names, and in none other of `names`."""
    runs = wait_for_runs(fleet, handles, names)
    for index, handle in enumerate(handles):
        assert handle.id.startswith(f"{handle.cell}~")
        assert {name: runs[name][index] for name in runs} == {
            name: int(name == handle.cell) for name in runs}, handle.id


def test_pushes_spread_evenly_and_each_runs_once_on_its_own_cells_worker(fleet: Fleet) -> None:
    relier, tasks = fleet.producer()
    # 3,000 random ids: each cell's share is within 10% of even with a 3.9-sigma margin
    handles = [tasks.record.push(index) for index in range(3000)]
    counts = Counter(handle.cell for handle in handles)
    assert set(counts) == set(NAMES)
    for name in NAMES:
        assert abs(counts[name] - 1000) <= 100, counts
    assert_ran_once_in_own_cell(fleet, handles)
    sample = handles[:: len(handles) // 30]
    # the worker that ran each one served the cell its id names, and results read back there
    for handle in sample:
        assert handle.result(timeout=30) == handle.cell
        assert relier.handle(handle.id).cell == handle.cell
        assert tasks.record.AsyncResult(handle.id).get(timeout=30) == handle.cell
        client = fleet.client(handle.cell)
        assert client.get(f"test:cell:{handle.id}") == handle.cell.encode()
        client.close()
    relier.cells.close()


def test_keys_idempotency_and_canvases_keep_to_one_cell(fleet: Fleet) -> None:
    """With a two-cell producer: a cell key, an idempotency key and a canvas each place
    everything they cover in one cell, where it runs once."""
    relier, tasks = fleet.producer(("east", "west"))
    by_key = [tasks.for_customer.push(customer)
              for customer in ("acme", "globex", "initech", "umbrella") for _ in range(5)]
    for customer_handles in (by_key[index:index + 5] for index in range(0, 20, 5)):
        assert len({handle.cell for handle in customer_handles}) == 1
    keyed = tasks.record.push_with((1,), cell_key="acme")
    assert keyed.cell == by_key[0].cell
    assert {handle.cell for handle in by_key} == {"east", "west"}  # both cells are used
    first = tasks.once.push("order-7")
    again = tasks.once.push("order-7")
    assert (again.id, again.cell, again.existing) == (first.id, first.cell, True)
    assert_ran_once_in_own_cell(fleet, [*by_key, keyed, first])

    chained = chain(tasks.add.s(1, 2), tasks.add.s(3), tasks.add.s(4)).apply_async()
    assert chained.get(timeout=60) == 10
    grouped = group(tasks.add.s(index, index) for index in range(6)).apply_async()
    assert grouped.get(timeout=60) == [2 * index for index in range(6)]
    chorded = chord((tasks.add.s(index, 1) for index in range(6)), tasks.total.s()).apply_async()
    outcome = chorded.get(timeout=60)
    assert outcome["sum"] == sum(index + 1 for index in range(6))
    # the chord's members, join and body ran in one cell: the one its group id ranks first
    members = [relier.handle(result.id) for result in chorded.parent.results]
    assert {member.cell for member in members} == {outcome["cell"]}
    assert {relier.handle(result.id).cell for result in grouped.results} == {
        relier.handle(grouped.results[0].id).cell}
    relier.cells.close()


def rl(fleet: Fleet, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`rl ARGS` with the fleet's RELIER_CELLS (and `env`), the test apps importable."""
    base = {name: value for name, value in os.environ.items() if name != "RELIER_REDIS_URL"}
    return subprocess.run(
        [sys.executable, "-m", "relier.cli", *args], capture_output=True, text=True, timeout=60,
        env={**base, "PYTHONPATH": str(APPS_DIR), "RELIER_CELLS": fleet.cells_env, **env},
        check=False)


def test_the_cli_finds_a_task_in_its_cell_and_refuses_bad_cells(fleet: Fleet) -> None:
    relier, tasks = fleet.producer()
    handle = next(handle for handle in (tasks.record.push(index) for index in range(50))
                  if handle.cell != "east")  # not the CLI's own cell (the first listed)
    assert handle.result(timeout=60) == handle.cell
    shown = rl(fleet, "tasks", "show", handle.id, "--json", "--app", "cell_app:app")
    assert shown.returncode == 0, shown.stderr
    assert f'"{handle.id}"' in shown.stdout
    assert '"completed"' in shown.stdout

    bad = rl(fleet, "tasks", "show", handle.id, "--app", "cell_app:app",
             RELIER_CELLS=f"East={fleet.servers['east'].url}")
    assert bad.returncode == 2
    assert bad.stderr.strip().count("\n") == 0
    assert "RELIER_CELLS: cell name 'East' must be 1-32 lowercase" in bad.stderr

    refused = rl(fleet, "run-resurrector", "--once", "--app", "cell_app:app")
    assert refused.returncode == 78, refused.stdout + refused.stderr
    assert "RELIER_CELL is unset" in refused.stdout + refused.stderr
    served = rl(fleet, "run-resurrector", "--once", "--app", "cell_app:app", RELIER_CELL="west")
    assert served.returncode == 0, served.stdout + served.stderr
    relier.cells.close()


def test_a_killed_cell_is_skipped_and_its_queued_work_completes_after_restart(fleet: Fleet) -> None:
    relier, tasks = fleet.producer()
    victim = "west"
    customers = [f"customer-{index}" for index in range(40)]
    victims_customers = [name for name in customers
                         if relier.cells.first_for(name).cell == victim][:5]
    assert victims_customers
    fleet.workers[victim].stop()  # its queued work waits in its Redis
    queued = [tasks.for_customer.push(name) for name in victims_customers]
    assert {handle.cell for handle in queued} == {victim}

    fleet.servers[victim].kill()
    # without a key: every push succeeds on the other cells, with no error
    moved = [tasks.record.push(index) for index in range(300)]
    assert {handle.cell for handle in moved} == {"east", "north"}
    # keyed to the dead cell: a clear error naming it, at once
    started = time.monotonic()
    with pytest.raises(CellUnavailableError, match=f"cell '{victim}', which is unavailable") as caught:
        tasks.for_customer.push(victims_customers[0])
    assert time.monotonic() - started < 5
    assert (caught.value.cell, caught.value.placed_by) == (victim, "cell_key")
    assert_ran_once_in_own_cell(fleet, moved, names=("east", "north"))

    fleet.servers[victim].start()  # same port and directory: the AOF brings its queue back
    fleet.start_worker(victim).wait_ready()
    assert [handle.result(timeout=60) for handle in queued] == [victim] * len(queued)
    assert_ran_once_in_own_cell(fleet, queued)
    relier.cells.close()
