"""A DataTable updated by key in batches: only changed cells are touched, so a refresh of a
10,000-row table costs what changed, not what exists."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.text import Text
from textual.widgets import DataTable

Cells = tuple[Any, ...]


def _plain(cell: Any) -> Any:
    return cell.plain if isinstance(cell, Text) else cell


class KeyedTable(DataTable[Any]):
    """Rows keyed by an id; `sync` replaces the whole set, `upsert`/`discard` touch a few."""

    def __init__(self, columns: Sequence[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self._column_spec = list(columns)
        self._shown: dict[str, Cells] = {}
        self._sort_index = -1

    def on_mount(self) -> None:
        for label, key in self._column_spec:
            self.add_column(label, key=key)

    @property
    def keys(self) -> list[str]:
        return list(self._shown)

    def selected_key(self) -> str | None:
        if not self._shown or self.cursor_row < 0:
            return None
        try:
            row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        except Exception:  # noqa: BLE001 - an empty or shrinking table has no selection
            return None
        return None if row_key.value is None else str(row_key.value)

    def sync(self, rows: Mapping[str, Cells]) -> None:
        """Make the table show exactly `rows`, touching only what differs."""
        for key in [key for key in self._shown if key not in rows]:
            self.discard(key)
        for key, cells in rows.items():
            self.upsert(key, cells)

    def upsert(self, key: str, cells: Cells) -> None:
        shown = self._shown.get(key)
        if shown is None:
            self.add_row(*cells, key=key)
        else:
            for (_, column), old, new in zip(self._column_spec, shown, cells, strict=True):
                if _plain(old) != _plain(new) or (isinstance(new, Text) and old != new):
                    self.update_cell(key, column, new)
        self._shown[key] = cells

    def discard(self, key: str) -> None:
        if self._shown.pop(key, None) is not None:
            self.remove_row(key)

    def cycle_sort(self) -> str:
        """Sort by the next column; returns its label."""
        self._sort_index = (self._sort_index + 1) % len(self._column_spec)
        label, column = self._column_spec[self._sort_index]
        self.sort(column, key=lambda value: (str(type(_plain(value))), _plain(value)))
        return label
