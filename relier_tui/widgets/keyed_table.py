"""A DataTable updated by key in batches: only changed cells are touched, so a refresh of a
10,000-row table costs what changed, not what exists. Every cell is shown literally: control
characters replaced, never read as markup (cells hold task names and errors from Redis).

The columns fit the terminal (`relier_tui.widgets.columns`): the most important first, the
others dropped when there is no room, and values wider than their column cut with an ellipsis.
The table keeps every row's full cells, so a resize (or a wider value) re-lays it out."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey

from relier.display import safe_text
from relier_tui.units import seconds_of
from relier_tui.widgets.columns import Column, Layout, cell_width, fit, fit_cell

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


def sort_value(cell: Any) -> tuple[int, Any]:
    """What a cell sorts by: numbers and durations (``950ms``, ``4.2s``, ``4m05s``) by their
    value, first; any other cell by its text."""
    plain = _plain(cell)
    if isinstance(plain, int | float) and not isinstance(plain, bool):
        return (0, plain)
    text = str(plain).strip()
    seconds = seconds_of(text)
    return (0, seconds) if seconds is not None else (1, text)


def literal_cells(cells: Cells) -> Cells:
    """Every cell of a row made safe to show (see `literal_cell`)."""
    return tuple(literal_cell(cell) for cell in cells)


class KeyedTable(DataTable[Any], inherit_bindings=False):
    """Rows keyed by an id; `sync` replaces the whole set, `upsert`/`discard` touch a few.

    The table moves its cursor and nothing else: Enter belongs to the pane (which opens the
    selected row, if it opens anything), and digits, letters, `/` and `?` pass through to the
    pane and the app. Its columns always fit its width, so it never scrolls sideways: what a
    narrow terminal drops, the row's detail view (Enter) shows."""

    BINDINGS = [
        Binding("up", "cursor_up", "Row up", show=False),
        Binding("down", "cursor_down", "Row down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("ctrl+home", "scroll_top", "First row", show=False),
        Binding("ctrl+end", "scroll_bottom", "Last row", show=False),
    ]

    def __init__(self, columns: Sequence[Column], *, volatile: Sequence[str] = (),
                 **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self._column_spec = list(columns)
        self._position = {column.key: index for index, column in enumerate(columns)}
        #: columns that change on every read (ages): a full `sync` leaves them to
        #: `refresh_visible`, so reconciling 10,000 rows does not rewrite 10,000 cells
        self._volatile = {index for index, column in enumerate(columns) if column.key in volatile}
        #: every row's full cells (made literal), whichever columns are shown
        self._shown: dict[str, Cells] = {}
        #: rows changed while off screen: written when they scroll into view (any cell write
        #: makes the table re-render every visible row, so off-screen writes are deferred)
        self._pending: set[str] = set()
        #: each column's widest value so far (never narrows: that would re-measure it all)
        self._widest = {column.key: cell_width(column.label) for column in columns}
        #: the columns shown and their caps, as last applied; () before the first layout
        self._layout: Layout = ()
        self._sort_key: str | None = None

    def on_mount(self) -> None:
        """Lay the columns out for the width there is."""
        self.relayout()

    @property
    def column_spec(self) -> list[Column]:
        """Every column the table has, shown or not, in its order."""
        return list(self._column_spec)

    @property
    def layout_shown(self) -> Layout:
        """The columns shown, by key, with the most cells each value may take (None: all)."""
        return self._layout

    def _available(self) -> int:
        """Cells for the columns: the table's width (the app's while it is hidden in a tab not
        shown), less the vertical scrollbar's, which may come with more rows."""
        width = self.size.width or self.app.size.width
        return max(1, width - self.styles.scrollbar_size_vertical)

    def relayout(self) -> bool:
        """Fit the columns to the width there is, rebuilding the table if what fits changed;
        whether it did."""
        layout = fit(self._column_spec, self._widest, self._available(), padding=2 * self.cell_padding)
        if layout == self._layout:
            return False
        self._rebuild(layout)
        return True

    def _rebuild(self, layout: Layout) -> None:
        """Show `layout`'s columns: every row re-added from its full cells (the cursor stays on
        its row, the sort is kept if its column still shows)."""
        selected = self.selected_key()
        self._layout = layout
        self._pending.clear()
        self.clear(columns=True)
        labels = {column.key: column.label for column in self._column_spec}
        for key, _ in layout:
            self.add_column(labels[key], key=key)
        for key, cells in self._shown.items():
            self.add_row(*self._visible(cells), key=key)
        if self._sort_key is not None and any(key == self._sort_key for key, _ in layout):
            self._sort_by(self._sort_key)
        if selected is not None and selected in self._shown:
            self.move_cursor(row=self.get_row_index(selected), animate=False)

    def _visible(self, cells: Cells) -> Cells:
        """The cells of the shown columns, each cut to its column's cap."""
        return tuple(fit_cell(cells[self._position[key]], cap) for key, cap in self._layout)

    def _measure(self, cells: Cells) -> bool:
        """Note values wider than their column has seen, and re-lay out if that changes what
        fits; whether the table was rebuilt."""
        wider = False
        for column, cell in zip(self._column_spec, cells, strict=True):
            width = cell_width(cell)
            if width > self._widest[column.key]:
                self._widest[column.key] = width
                wider = True
        return wider and bool(self._layout) and self.relayout()

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
            self._shown[key] = cells
            if self._layout:
                self.add_row(*self._visible(cells), key=key)
            self._measure(cells)
            return
        merged = tuple(old if skip_volatile and index in self._volatile else new
                       for index, (old, new) in enumerate(zip(shown, cells, strict=True)))
        if merged == shown:
            return
        self._shown[key] = merged
        if not self._layout or self._measure(merged):
            return  # not laid out yet, or just rebuilt from `_shown`
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
        for (column, _), old, new in zip(self._layout, current, self._visible(self._shown[key]),
                                         strict=True):
            if _plain(old) != _plain(new) or (isinstance(new, Text) and old != new):
                self._set(key, column, new)

    def _set(self, key: str, column: str, value: Any) -> None:
        """Write one cell; the column widens when the value is wider than it (an age going from
        ``9.9s`` to ``10.0s`` is never cut), and never narrows (that would re-measure it all)."""
        spec = self.columns.get(ColumnKey(column))
        wider = spec is not None and cell_width(value) > spec.content_width
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
        """Re-fit the columns to the new width; rows that came into view get their deferred
        writes."""
        if self._layout:
            self.relayout()
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
        caps = dict(self._layout)
        for key in self.visible_keys():
            cells = cells_for(key)
            if cells is None or key not in self._shown:
                continue
            cells = literal_cells(cells)
            shown = list(self._shown[key])
            changed = [index for index in self._volatile
                       if _plain(shown[index]) != _plain(cells[index]) or shown[index] != cells[index]]
            for index in changed:
                shown[index] = cells[index]
            self._shown[key] = tuple(shown)
            if self._measure(self._shown[key]):
                return  # rebuilt from `_shown`: every row is current
            for index in changed:
                column = self._column_spec[index].key
                if column in caps:
                    self._set(key, column, fit_cell(cells[index], caps[column]))

    def discard(self, key: str) -> None:
        """Remove the row if it is shown."""
        self._pending.discard(key)
        if self._shown.pop(key, None) is not None and self._layout:
            self.remove_row(key)

    def cycle_sort(self) -> str:
        """Sort by the next column shown; returns its label."""
        self.flush(everything=True)
        shown = [key for key, _ in self._layout]
        if not shown:
            return ""
        following = shown.index(self._sort_key) + 1 if self._sort_key in shown else 0
        self._sort_key = shown[following % len(shown)]
        self._sort_by(self._sort_key)
        return next(column.label for column in self._column_spec if column.key == self._sort_key)

    def _sort_by(self, column: str) -> None:
        self.sort(column, key=sort_value)
