"""The tables' own keys (issue 19): every key a console table declares, in every table of every
pane, moves its cursor. The rows are put in the table itself after the console's first read (a
pure UI check: an empty Redis has no rows to show); the keys come from the table's bindings,
so a new one without a check here fails. (The columns always fit the table's width, so there
is nothing to scroll sideways: tests/tui/test_layout.py.)"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from relier.testing import RedisServer
from relier_tui.keys import declared
from relier_tui.widgets.keyed_table import KeyedTable
from tests.tui.conftest import until
from tests.tui.keyboard import console, key_matrix, start

#: every table, by pane: the pane's home, and the SLO table below the limits
TABLES = [("inflight", "#inflight-table"), ("workers", "#workers-table"), ("dead-letters", "#dlq-table"),
          ("admission", "#limits-table"), ("admission", "#slo-table")]
ROWS = 60
TABLE_KEYS = [binding.key for binding in declared(KeyedTable)]

#: per key: where the cursor or the columns start, and what the key must have done
Setup = Callable[[KeyedTable], None]
Done = Callable[[KeyedTable], bool]


def _row(row: int) -> Setup:
    return lambda table: table.move_cursor(row=row)


CHECKS: dict[str, tuple[Setup, Done]] = {
    "down": (_row(0), lambda table: table.cursor_row == 1),
    "up": (_row(5), lambda table: table.cursor_row == 4),
    "pagedown": (_row(0), lambda table: table.cursor_row > 1),
    "pageup": (_row(ROWS - 1), lambda table: table.cursor_row < ROWS - 2),
    "ctrl+home": (_row(10), lambda table: table.cursor_row == 0),
    "ctrl+end": (_row(0), lambda table: table.cursor_row == ROWS - 1),
}


def _fill(table: KeyedTable) -> None:
    """ROWS rows, one cell per column the table has (shown or not)."""
    width = len(table.column_spec)
    table.sync({f"row-{n:02d}": tuple(f"r{n}c{c}" for c in range(width)) for n in range(ROWS)})


def test_every_table_key_has_a_check() -> None:
    assert set(TABLE_KEYS) == set(CHECKS)


@pytest.mark.parametrize(("pane_id", "table_id", "key"), key_matrix(TABLES, TABLE_KEYS),
                         ids=[f"{p}{t}-{k}" for p, t, k in key_matrix(TABLES, TABLE_KEYS)])
async def test_table_key_works(pane_id: str, table_id: str, key: str, empty_server: RedisServer) -> None:
    app = console(empty_server)
    async with app.run_test(size=(120, 36)) as pilot:
        await start(pilot, app, pane_id, table_id)
        table = app.query_one(table_id, KeyedTable)
        _fill(table)
        await pilot.pause()
        setup, done = CHECKS[key]
        setup(table)
        await pilot.pause()
        assert not done(table)  # the key has something to do
        await pilot.press(key)
        await until(pilot, lambda: done(table), what=f"{key} in {table_id}")
        assert app.focused is table
