"""The operator's view across cells, against two real Redis servers and a worker per cell:
`rl` commands merge every cell with a cell column, `--cell` narrows, a drained cell takes no
new task and its dead letters move, and a SIGKILLed cell is reported while the other shows."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from cell_tasks import CellTasks  # tests/apps, on sys.path (conftest)

from relier import CellDrainingError, Relier, TaskFailedError, TaskHandle
from relier.testing import wait_until
from tests.integration.test_cells import Fleet, rl, started_fleet

NAMES = ("east", "west")
APP = ("--app", "cell_app:app")


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    with started_fleet(tmp_path_factory.mktemp("cells-cli"), NAMES) as started:
        yield started


def key_for(relier: Relier, cell: str) -> str:
    """A cell key that places a task in `cell`."""
    return next(key for key in (f"k-{index}" for index in range(1000))
                if relier.cells.first_for(key).cell == cell)


def dead_letter_in(relier: Relier, tasks: CellTasks, cell: str, label: str) -> TaskHandle:
    handle: TaskHandle = tasks.fail.push_with((label,), cell_key=key_for(relier, cell))
    assert handle.cell == cell
    with pytest.raises(TaskFailedError):
        handle.result(timeout=60)
    return handle


def as_json(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


def test_commands_merge_every_cell_with_a_cell_column_and_cell_narrows(fleet: Fleet) -> None:
    relier, tasks = fleet.producer(NAMES)
    east = dead_letter_in(relier, tasks, "east", "a")
    west = dead_letter_in(relier, tasks, "west", "b")

    workers = as_json(rl(fleet, "workers", "--json", *APP))
    assert {row["cell"] for row in workers} == set(NAMES)
    table = rl(fleet, "workers", *APP)
    assert table.returncode == 0, table.stderr
    assert table.stdout.splitlines()[0].split()[:2] == ["cell", "worker"]
    assert "2 live worker(s) in 2 cell(s)" in table.stdout

    listed = as_json(rl(fleet, "dlq", "list", "--json", *APP))
    cells_of = {entry["id"]: entry["cell"] for entry in listed["entries"]}
    assert cells_of[east.id] == "east"
    assert cells_of[west.id] == "west"
    narrowed = as_json(rl(fleet, "dlq", "list", "--cell", "west", "--json", *APP))
    assert {entry["cell"] for entry in narrowed["entries"]} == {"west"}
    assert west.id in {entry["id"] for entry in narrowed["entries"]}
    shown = as_json(rl(fleet, "dlq", "show", west.id, "--json", *APP))
    assert (shown["cell"], shown["reason"]) == ("west", "retries_exhausted")

    unknown = rl(fleet, "workers", "--cell", "nowhere", *APP)
    assert unknown.returncode == 2
    assert unknown.stderr.strip() == ("rl: error: --cell: no cell 'nowhere' (cells: east, "
                                      "west)")

    limited = rl(fleet, "admission", "set", "cells", "--rate", "5", *APP)
    assert limited.returncode == 0, limited.stderr
    assert "every cell (east, west)" in limited.stdout
    status = as_json(rl(fleet, "admission", "status", "--json", *APP))
    assert {(row["cell"], row["rate"]) for row in status["live"]} == {
        ("east", 5.0), ("west", 5.0)}
    assert status["fleet"] == [{"scope": "queue", "name": "cells", "rate": 10.0,
                                "max_depth": None, "cells": 2}]
    cleared = rl(fleet, "admission", "clear", "cells", "--cell", "east", *APP)
    assert "override cleared in east" in cleared.stdout, cleared.stdout + cleared.stderr
    assert rl(fleet, "admission", "clear", "cells", *APP).returncode == 0

    slo = as_json(rl(fleet, "slo", "--json", *APP))
    assert {row["cell"] for row in slo if row["task"] == "cells.fail"} == set(NAMES)
    tail = as_json_lines(rl(fleet, "tail", "--since", "0", "--type", "dead_lettered",
                            "--count", "2", "--json", *APP))
    assert {event["cell"] for event in tail} == set(NAMES)

    released = rl(fleet, "dlq", "release", east.id, *APP)
    assert released.stdout.strip() == f"released {east.id} in cell east", released.stderr
    relier.cells.close()


def as_json_lines(result: subprocess.CompletedProcess[str]) -> list[dict[str, str]]:
    assert result.returncode == 0, result.stdout + result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_a_drained_cell_takes_no_new_task_and_its_dead_letters_move(fleet: Fleet) -> None:
    relier, tasks = fleet.producer(NAMES)
    stranded = dead_letter_in(relier, tasks, "west", "stranded")
    queued = [tasks.record.push_with((index,), cell_key=key_for(relier, "west"))
              for index in range(5)]
    west_letters = fleet.client("west").zcard("rl:dlq")  # this one and any earlier test's
    drained = rl(fleet, "cells", "drain", "west", "--timeout", "120", "--interval", "0.2", *APP)
    assert drained.returncode == 0, drained.stdout + drained.stderr
    assert "cell west: draining" in drained.stdout
    assert "0 queued, 0 in broker lists, 0 scheduled, 0 inflight" in drained.stdout
    assert f"{west_letters} dead letter(s) moved to cell east" in drained.stdout
    assert "remove west from RELIER_CELLS" in drained.stdout
    assert [handle.result(timeout=60) for handle in queued] == ["west"] * 5  # ran before the end

    # the producer honours the mark: free tasks go to east, a task pinned to west fails
    wait_until(lambda: relier.cells.is_draining("west"), timeout=10, interval=0.1,
               message="the producer never saw the drain mark")
    moved = [tasks.record.push(index) for index in range(50)]
    assert {handle.cell for handle in moved} == {"east"}
    with pytest.raises(CellDrainingError, match="cell 'west', which is being drained"):
        tasks.record.push_with((1,), cell_key=key_for(relier, "west"))

    east, west = fleet.client("east"), fleet.client("west")
    assert west.zscore("rl:dlq", stranded.id) is None
    assert west.hget(f"rl:t:{stranded.id}", "moved_to") == b"east"
    assert east.zscore("rl:dlq", stranded.id) is not None
    assert east.hget(f"rl:t:{stranded.id}", "moved_from") == b"west"
    listed = as_json(rl(fleet, "cells", "list", "--json", *APP))
    assert [(row["cell"], row["draining"], row["dead_letters"]) for row in listed] == [
        ("east", False, east.zcard("rl:dlq")), ("west", True, 0)]

    # the moved entry is found from its id (which names west) and runs in east
    released = rl(fleet, "dlq", "release", stranded.id, *APP)
    assert released.stdout.strip() == f"released {stranded.id} in cell east", released.stderr
    wait_until(lambda: int(east.get(f"test:exec:{stranded.id}") or 0) == 1, timeout=60,
               message="the released dead letter never ran in east")
    assert int(west.get(f"test:exec:{stranded.id}") or 0) == 1  # its first run, in west

    assert rl(fleet, "cells", "undrain", "west", *APP).stdout.strip() == "cell west: open again"
    east.close()
    west.close()
    relier.cells.close()


def test_a_killed_cell_is_reported_and_the_other_still_shown(fleet: Fleet) -> None:
    relier, tasks = fleet.producer(NAMES)
    dead_letter_in(relier, tasks, "east", "survivor")
    fleet.workers["west"].stop()
    fleet.servers["west"].kill()
    with pytest.raises(redis.ConnectionError):
        fleet.client("west").ping()
    shown_from_east = {  # what each command still prints from the cell that answers
        ("workers",): "1 live worker(s) in 1 cell(s)", ("dlq", "list"): "in 1 cell(s)",
        ("tasks", "inflight"): "inflight",
        ("slo",): "cell east: cells.fail", ("admission", "status"): "sum over 1 cell(s)",
        ("cells", "list"): "east         open"}
    for command, expected in shown_from_east.items():
        result = rl(fleet, *command, *APP)
        assert result.returncode == 1, (command, result.stdout, result.stderr)
        assert expected in result.stdout, (command, result.stdout)
        if command != ("cells", "list"):
            lines = [line for line in result.stderr.splitlines() if line]
            assert len(lines) == 1, (command, result.stderr)
            assert lines[0].startswith("cell west: unreachable (ConnectionError"), lines
        else:
            assert "west         unreachable (ConnectionError" in result.stdout
    passes = rl(fleet, "run-resurrector", "--once", "--all-cells", *APP)
    assert passes.returncode == 1, passes.stdout + passes.stderr
    assert passes.stdout.startswith("cell east: processes expired"), passes.stdout
    assert "cell west: unreachable" in passes.stderr
    relier.cells.close()
