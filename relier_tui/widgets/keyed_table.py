"""A DataTable updated by key in batches: only changed cells are touched, so a refresh of a
10,000-row table costs what changed, not what exists. Every cell is shown literally: control
characters replaced, never read as markup (cells hold task names and errors from Redis)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from rich.cells import cell_len
from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey

from relier.display import safe_text

Cells = tuple[Any, ...]
#: what a DataTable reads as Rich markup in a plain string cell: ``[tags]`` and ``:emoji:``
_MARKUP = frozenset("[:")


def _plain(cell: Any) -> Any:
    """A cell's text without its style, for comparisons."""
    return cell.plain if isinstance(cell, Text) else cell


def literal_cell(cell: Any) -> Any:
    """`cell` made safe to show: controls replaced, a string that could be markup made `Text`."""
    # strings without '[' or ':' stay strings: cheaper to build, compare and render
    if isinstance(cell, str):
        # isprintable() is False for every character safe_text replaces: most cells skip it
        text = cell if cell.isprintable() else safe_text(cell)
        return Text(text) if not _MARKUP.isdisjoint(text) else text
    if isinstance(cell, Text):
        plain = cell.plain
        if plain.isprintable():
            return cell
        safe = cell.copy()
        safe.plain = safe_text(plain)
        return safe
    return cell


def literal_cells(cells: Cells) -> Cells:
    """Every cell of a row made safe to show (see `literal_cell`)."""
    return tuple(literal_cell(cell) for cell in cells)


class KeyedTable(DataTable[Any], inherit_bindings=False):
    """Rows keyed by an id; `sync` replaces the whole set, `upsert`/`discard` touch a few.

    The table moves its cursor and nothing else: Enter belongs to the pane (which opens the
    selected row, if it opens anything), and digits, letters, `/` and `?` pass through to the
    pane and the app."""

    BINDINGS = [
        Binding("up", "cursor_up", "Row up", show=False),
        Binding("down", "cursor_down", "Row down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("ctrl+home", "scroll_top", "First row", show=False),
        Binding("ctrl+end", "scroll_bottom", "Last row", show=False),
        Binding("left", "cursor_left", "Scroll left", show=False),
        Binding("right", "cursor_right", "Scroll right", show=False),
        Binding("home", "scroll_home", "First column", show=False),
        Binding("end", "scroll_end", "Last column", show=False),
    ]

    def __init__(self, columns: Sequence[tuple[str, str]], *, volatile: Sequence[str] = (),
                 **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self._column_spec = list(columns)
        #: columns that change on every read (ages): a full `sync` leaves them to
        #: `refresh_visible`, so reconciling 10,000 rows does not rewrite 10,000 cells
        self._volatile = {index for index, (_, key) in enumerate(columns) if key in volatile}
        self._shown: dict[str, Cells] = {}
        #: rows changed while off screen: written when they scroll into view (any cell write
        #: makes the table re-render every visible row, so off-screen writes are deferred)
        self._pending: set[str] = set()
        self._sort_index = -1

    def on_mount(self) -> None:
        """Add the columns."""
        for label, key in self._column_spec:
            self.add_column(label, key=key)

    @property
    def keys(self) -> list[str]:
        """The shown rows' keys, in the order they were added."""
        return list(self._shown)

    @property
    def keys_set(self) -> dict[str, Cells]:
        """The shown rows by key (a mapping: membership tests cost nothing)."""
        return self._shown

    def selected_key(self) -> str | None:
        """The key of the row under the cursor (None in an empty table)."""
        if not self._shown or self.cursor_row < 0:
            return None
        try:
            row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        except Exception:  # noqa: BLE001 - an empty or shrinking table has no selection
            return None
        return None if row_key.value is None else str(row_key.value)

    def sync(self, rows: Mapping[str, Cells]) -> None:
        """Make the table show exactly `rows`, touching only what differs (volatile columns
        of existing rows excepted)."""
        for key in [key for key in self._shown if key not in rows]:
            self.discard(key)
        for key, cells in rows.items():
            self.upsert(key, cells, skip_volatile=True)

    def upsert(self, key: str, cells: Cells, *, skip_volatile: bool = False) -> None:
        """Add the row or change the cells that differ (written now if in view, else deferred)."""
        cells = literal_cells(cells)
        shown = self._shown.get(key)
        if shown is None:
            self.add_row(*cells, key=key)
            self._shown[key] = cells
            return
        merged = tuple(old if skip_volatile and index in self._volatile else new
                       for index, (old, new) in enumerate(zip(shown, cells, strict=True)))
        if merged == shown:
            return
        self._shown[key] = merged
        if self._in_view(key):
            self._write(key)
        else:
            self._pending.add(key)

    def _in_view(self, key: str) -> bool:
        first = int(self.scroll_offset.y)
        return first <= self.get_row_index(key) < first + max(1, self.size.height)

    def _write(self, key: str) -> None:
        """Make the table's cells of `key` what `_shown` says."""
        self._pending.discard(key)
        current = self.get_row(key)
        for (_, column), old, new in zip(self._column_spec, current, self._shown[key], strict=True):
            if _plain(old) != _plain(new) or (isinstance(new, Text) and old != new):
                self._set(key, column, new)

    def _set(self, key: str, column: str, value: Any) -> None:
        """Write one cell; the column widens when the value is wider than it (an age going from
        ``9.9s`` to ``10.0s`` is never cut), and never narrows (that would re-measure it all)."""
        spec = self.columns.get(ColumnKey(column))
        text = value.plain if isinstance(value, Text) else str(value)
        wider = spec is not None and cell_len(text) > spec.content_width
        self.update_cell(key, column, value, update_width=wider)

    def flush(self, *, everything: bool = False) -> None:
        """Write deferred rows now in view (or all of them)."""
        keys = list(self._pending) if everything else [k for k in self.visible_keys() if k in self._pending]
        for key in keys:
            self._write(key)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        """Rows scrolled into view get their deferred writes."""
        super().watch_scroll_y(old_value, new_value)
        if self._pending:
            self.call_after_refresh(self.flush)

    def on_resize(self) -> None:
        """Rows that came into view get their deferred writes."""
        if self._pending:
            self.call_after_refresh(self.flush)

    def visible_keys(self) -> list[str]:
        """Keys of the rows on screen now."""
        first = max(0, int(self.scroll_offset.y))
        rows = self.ordered_rows[first:first + max(1, self.size.height)]
        return [str(row.key.value) for row in rows if row.key.value is not None]

    def refresh_volatile(self, cells_for: Callable[[str], Cells | None]) -> None:
        """Rewrite the volatile cells of the rows on screen from `cells_for(key)`."""
        self.flush()
        for key in self.visible_keys():
            cells = cells_for(key)
            if cells is None or key not in self._shown:
                continue
            cells = literal_cells(cells)
            shown = list(self._shown[key])
            for index in self._volatile:
                if _plain(shown[index]) != _plain(cells[index]) or shown[index] != cells[index]:
                    self._set(key, self._column_spec[index][1], cells[index])
                    shown[index] = cells[index]
            self._shown[key] = tuple(shown)

    def discard(self, key: str) -> None:
        """Remove the row if it is shown."""
        self._pending.discard(key)
        if self._shown.pop(key, None) is not None:
            self.remove_row(key)

    def cycle_sort(self) -> str:
        """Sort by the next column; returns its label."""
        self.flush(everything=True)
        self._sort_index = (self._sort_index + 1) % len(self._column_spec)
        label, column = self._column_spec[self._sort_index]
        self.sort(column, key=lambda value: (str(type(_plain(value))), _plain(value)))
        return label
