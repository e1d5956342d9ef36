"""The tables fit the terminal (issue 19): the columns that matter first (a task's name, state,
lease age and run time), lower ones dropped at narrow widths, values cut with an ellipsis,
units always shown, a state column at every size, and never a sideways scroll."""

from __future__ import annotations

import pytest
from textual.pilot import Pilot

from relier.inspection import ProcessView, WorkerView
from relier.testing import RedisServer
from relier_tui.widgets import admission, dead_letters, inflight, workers
from relier_tui.widgets.columns import ELLIPSIS, Column, fit, fit_cell
from relier_tui.widgets.inflight import InflightPane
from relier_tui.widgets.keyed_table import KeyedTable, sort_value
from tests.tui.conftest import until
from tests.tui.keyboard import console, start
from tests.tui.task_records import inflight_tasks

#: an inflight table's widest values in a busy deployment
WIDEST = {"task": 40, "state": 8, "lease": 6, "running": 6, "worker": 24, "attempt": 2,
          "fence": 5, "queue": 12, "id": 8}
#: every pane's table: its columns, and the ones it must keep at 80 columns
TABLES = [
    ("inflight", "#inflight-table", inflight.COLUMNS, ["task", "state", "lease", "running"]),
    ("workers", "#workers-table", workers.COLUMNS, ["node", "state", "lease", "held"]),
    ("dead-letters", "#dlq-table", dead_letters.COLUMNS, ["task", "reason", "age", "releasable"]),
    ("admission", "#limits-table", admission.LIMIT_COLUMNS, ["name", "scope", "rate", "rejected"]),
    ("admission", "#slo-table", admission.SLO_COLUMNS, ["task", "alerts", "burn_5m"]),
]


def test_narrow_keeps_the_columns_that_matter_in_their_order() -> None:
    layout = fit(inflight.COLUMNS, WIDEST, 78)
    shown = [key for key, _ in layout]
    assert shown == ["task", "state", "lease", "running", "worker", "attempt", "fence"]
    caps = dict(layout)
    assert caps["task"] is not None  # cut, not dropped
    assert [caps["state"], caps["lease"], caps["running"]] == [None, None, None]  # whole
    assert sum((cap or WIDEST[key]) + 2 for key, cap in layout) <= 78


def test_wide_shows_every_column_whole() -> None:
    assert fit(inflight.COLUMNS, WIDEST, 158) == tuple((c.key, None) for c in inflight.COLUMNS)


def test_the_first_column_always_shows() -> None:
    assert fit(inflight.COLUMNS, WIDEST, 5) == (("task", 3),)


def test_a_lower_priority_column_goes_first_whatever_its_place() -> None:
    columns = [Column("a", "a", priority=2, min_width=5), Column("b", "b", priority=0, min_width=10),
               Column("c", "c", priority=1, min_width=5)]
    assert fit(columns, {"a": 5, "b": 10, "c": 5}, 20) == (("b", None), ("c", None))


def test_a_cut_value_ends_with_an_ellipsis_and_is_never_markup() -> None:
    cut = fit_cell("[bold]billing.charge_customer", 10)
    assert cut.plain == f"[bold]bil{ELLIPSIS}"
    assert cut.spans == []
    assert fit_cell("short", 10) == "short"


def test_ages_and_counts_sort_by_value() -> None:
    cells = ["12.5s", "950ms", "4m05s", "1.2s", "none", 3]
    assert sorted(cells, key=sort_value) == ["950ms", "1.2s", 3, "12.5s", "4m05s", "none"]


async def _rows_shown(pilot: Pilot[None], app: object, size: tuple[int, int]) -> InflightPane:
    await pilot.resize_terminal(*size)
    pane = pilot.app.query_one(InflightPane)
    pane.leases.clock = lambda: 0.0  # the rows keep the ages they were read with
    pane.replace(inflight_tasks())
    await pilot.pause()
    return pane


async def test_the_inflight_table_at_80x24_and_160x48(empty_server: RedisServer) -> None:
    app = console(empty_server)
    async with app.run_test(size=(80, 24)) as pilot:
        await start(pilot, app, "inflight")
        pane = await _rows_shown(pilot, app, (80, 24))
        table = pane.table
        await until(pilot, lambda: len(table.keys) == 4, what="the rows")
        header = table.render_line(0).text.split()
        assert header[:4] == ["task", "state", "lease", "running"]
        assert "id" not in header
        assert table.max_scroll_x == 0
        first = table.render_line(1).text
        assert ELLIPSIS in first  # the long name, cut
        assert first.split()[1:4] == ["running", "1.2s", "12m34s"]
        rows = "\n".join(table.render_line(y).text for y in range(1, 5))
        for value in ("reserved", "45.0s", "none", "12ms"):  # both states, and units always
            assert value in rows
        await pilot.resize_terminal(160, 48)
        await until(pilot, lambda: len(table.layout_shown) == len(inflight.COLUMNS),
                    what="every column at 160 columns")
        wide = table.render_line(1).text
        assert "billing.charge_customer_for_the_whole_annual_subscription" in wide
        assert ELLIPSIS not in wide
        assert table.render_line(0).text.split() == [c.label for c in inflight.COLUMNS]


@pytest.mark.parametrize(("pane_id", "table_id", "columns", "kept"), TABLES,
                         ids=[table_id for _, table_id, _, _ in TABLES])
async def test_every_table_keeps_its_first_columns_at_80(pane_id: str, table_id: str,
                                                         columns: list[Column], kept: list[str],
                                                         empty_server: RedisServer) -> None:
    app = console(empty_server)
    async with app.run_test(size=(80, 24)) as pilot:
        await start(pilot, app, pane_id)
        table = app.query_one(table_id, KeyedTable)
        table.sync({f"row-{n}": tuple("x" * 30 for _ in columns) for n in range(3)})
        await pilot.pause()
        shown = [key for key, _ in table.layout_shown]
        assert set(kept) <= set(shown)
        assert shown == [c.key for c in columns if c.key in shown]  # in their own order
        assert table.max_scroll_x == 0
        assert ELLIPSIS in table.render_line(1).text


def test_a_whole_column_is_shown_whole_or_dropped() -> None:
    columns = [Column("name", "name", priority=0, min_width=10), Column("pid", "pid", priority=1, whole=True)]
    widest = {"name": 30, "pid": 7}
    assert fit(columns, widest, 30) == (("name", 19), ("pid", None))  # the name gives way
    assert fit(columns, widest, 20) == (("name", 18),)  # no room for 7 cells: no pid at all


async def test_the_workers_table_at_80_keeps_the_pid_whole(empty_server: RedisServer) -> None:
    """A worker on a host with a long name, as CI and cloud hosts have: at 80 columns its pid is
    readable (whole), and what matters less (host, queues) gives way first."""
    node = "first@runner-4f9c2a7e-build-pool-east.internal/2123456"
    worker = WorkerView(node=node, host="runner-4f9c2a7e-build-pool-east.internal", pid=2123456,
                        queues=["default", "critical", "bulk"], pool="prefork", concurrency=2,
                        lease_age=0.4, tasks_held=1,
                        processes=[ProcessView(node.replace("2123456", "2123501"), 0.2, 1)],
                        draining=False)
    app = console(empty_server)
    async with app.run_test(size=(80, 24)) as pilot:
        await start(pilot, app, "workers")
        app._show_workers([worker])
        table = app.query_one("#workers-table", KeyedTable)
        await until(pilot, lambda: len(table.keys) == 2, what="the worker and its process")
        await pilot.pause()
        await pilot.pause()  # the table measures its columns when idle
        header = table.render_line(0).text.split()
        assert header[:2] == ["worker", "/"]
        assert "pid" in header
        assert "host" not in header
        row = table.render_line(1).text
        assert "2123456" in row.split()  # whole, in its own column
        assert row.split()[0].endswith(ELLIPSIS)  # the long name gave way instead
        assert "2123501" in table.render_line(2).text  # the pool process, by its pid
        assert table.max_scroll_x == 0
