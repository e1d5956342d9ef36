"""``python -m bench ceiling --cells``'s pure parts: options, core plan, per-task CPU bounds,
scaling factors, rows and figures. Nothing here starts a server, a worker or a producer."""

from __future__ import annotations

import argparse

import pytest

from bench.__main__ import REGISTRY, build_parser
from bench.affinity import Pinning, describe_pinning, plan_cores
from bench.cell_ceiling import (
    HEADROOM,
    NAME,
    CellsRun,
    CellWindow,
    cell_rows,
    count_rows,
    cpu_per_task_us,
    derived_ceiling,
    figures_of,
    parse_cell_counts,
    scaling_factors,
)
from bench.page import section


def test_cell_counts_parse_sorted_and_bounded() -> None:
    assert parse_cell_counts("1,2,3") == (1, 2, 3)
    assert parse_cell_counts("3, 1,1") == (1, 3)
    for bad in ("", "0,1", "1,x", "9"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_cell_counts(bad)


def test_ceiling_cells_option() -> None:
    parser, _ = build_parser()
    args = parser.parse_args(["ceiling", "--cells", "1,2,3", "--seconds", "20"])
    assert (args.cells, args.seconds, args.producers, args.workers) == ((1, 2, 3), 20.0, 2, 2)
    assert parser.parse_args(["ceiling"]).cells is None  # the one-Redis arms, as before
    ceiling = next(b for b in REGISTRY if b.name == "ceiling")
    assert ceiling.results == (NAME,)  # its result file is placed on the page after it


def test_cores_are_planned_in_turn_and_sharing_is_said() -> None:
    assert plan_cores(3, [0, 1]) == [0, 1, 0]
    assert plan_cores(2, [2, 5, 7]) == [2, 5]
    with pytest.raises(ValueError, match="no cores"):
        plan_cores(1, [])
    text = describe_pinning(["a", "b", "c"], [Pinning(0, 4), Pinning(1, 4), Pinning(0, 4)],
                            [0, 1])
    assert text == "a on core 0, b on core 1, c on core 0; 3 servers on 2 cores: core(s) 0 shared"
    refused = describe_pinning(["a"], [Pinning(0, 0, "PermissionError: no")], [0, 1])
    assert refused == "a not pinned (PermissionError: no)"


def test_cpu_per_task_bounds_and_derived_ceiling() -> None:
    # 0.5 s of CPU for 1,000 pushes and 500 completions: 500 µs to 1,000 µs per lifecycle
    assert cpu_per_task_us(0.5, 1000, 500) == pytest.approx((500.0, 1000.0))
    assert cpu_per_task_us(0.5, 500, 1000) == pytest.approx((500.0, 1000.0))
    assert cpu_per_task_us(0.5, 0, 10) is None
    assert derived_ceiling(250.0) == pytest.approx(4000.0)
    assert derived_ceiling(250.0, HEADROOM) == pytest.approx(4000.0 * HEADROOM)


def test_scaling_factors_divide_by_the_smallest_count() -> None:
    assert scaling_factors({1: 500.0, 2: 600.0, 3: 450.0}) == pytest.approx(
        {1: 1.0, 2: 1.2, 3: 0.9})
    assert scaling_factors({2: 400.0, 3: 600.0}) == pytest.approx({2: 1.0, 3: 1.5})
    assert scaling_factors({1: 0.0, 2: 5.0}) == {1: None, 2: None}
    assert scaling_factors({}) == {}


def _run(count: int, completed: int, cpu_s: float, busy: float) -> CellsRun:
    cells = tuple(CellWindow(cell=f"cell{i + 1}", core=i % 2, is_pinned=True,
                             completed=completed, pushed=completed * 2, redis_main_s=cpu_s,
                             redis_process_s=cpu_s) for i in range(count))
    return CellsRun(count=count, seconds=10.0, cells=cells, pinning=f"{count} pinned",
                    cpu_source="main thread", workers_cpu=1.0, producers_cpu=0.5,
                    machine_busy=busy)


def test_tables_and_figures() -> None:
    runs = [_run(1, 5000, 2.0, 0.99), _run(2, 3000, 1.0, 1.0)]
    assert runs[1].completed_per_s == 600.0
    rows = count_rows(runs, 2)
    assert rows[0][:5] == ("1", "1 pinned", "500", "1,000", "1.00x")
    assert rows[1][4:6] == ("1.20x", "10%")
    assert rows[1][-1].startswith("the machine's cores: 100% of 2 busy")
    per_cell = cell_rows(runs)
    # 2 s over 10,000 pushes and 5,000 completions: 200 to 400 µs; 1 / 400 µs = 2,500 tasks/s
    assert per_cell[0] == ("1", "cell1", "0", "500", "1,000", "20%", "200 to 400", "2,500",
                           "1,250")
    assert [row[1:3] for row in per_cell[1:]] == [("cell1", "0"), ("cell2", "1")]
    figures = figures_of(runs, "m")
    assert [(f.name, f.relier) for f in figures] == [
        ("ceiling across cells: completed no-op tasks/s, 1 cell", 500.0),
        ("ceiling across cells: completed no-op tasks/s, 2 cells", 600.0),
        ("scaling factor: tasks/s with 2 cells ÷ with 1", pytest.approx(1.2)),
        ("Redis main-thread CPU per task lifecycle, 1 cell saturated (high bound)",
         pytest.approx(400.0)),
        (f"derived: tasks/s one cell carries at {HEADROOM:.0%} of a dedicated core", 1250.0),
    ]
    assert figures[0].higher_is_better
    assert figures[2].unit == "x"


def test_page_section_names_the_command_that_runs_it() -> None:
    text = section(NAME, {"description": "d", "command": "python -m bench ceiling --cells 1,2,3"},
                   ())
    assert "Run alone: `python -m bench ceiling --cells 1,2,3`." in text
    assert "Run alone: `python -m bench ceiling`." in section("ceiling", {"description": "d"}, ())
