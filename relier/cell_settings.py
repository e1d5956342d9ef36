"""Cells in the settings: ``RELIER_CELLS`` (every cell's Redis) and ``RELIER_CELL`` (this
process's own), parsed and checked before anything connects.

A cell is one Redis primary with its queues, workers and resurrector. Its name prefixes the
ids of the tasks placed in it (``east~<uuid>``), so a name is short, lowercase, and made of
characters that are safe in a Celery task id and in a Redis key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

#: What a cell name may look like: a lowercase letter or digit, then letters, digits or '-'.
CELL_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")
#: URL schemes a cell's Redis may be given in (relier's Redis and Sentinel forms).
CELL_URL_SCHEMES = ("redis://", "rediss://", "unix://", "redis+sentinel://")
#: Entries are separated by a comma that starts the next ``name=``: a Sentinel URL lists its
#: hosts with commas too (``redis+sentinel://h1:26379,h2:26379/master/0``).
_ENTRY_SEPARATOR = re.compile(r",\s*(?=[^,=:/@]+=)")

Cells = tuple[tuple[str, str], ...]


def cell_name_problem(name: str) -> str | None:
    """Why `name` cannot be a cell's name, or None when it can."""
    if CELL_NAME.fullmatch(name):
        return None
    return (f"cell name {name!r} must be 1-32 lowercase letters, digits or '-', starting with a "
            "letter or digit (it prefixes task ids: east~<uuid>)")


def parse_cells(raw: str) -> Cells:
    """``east=redis://a:6379/0,west=redis://b:6379/0`` as ((name, url), ...) in the given
    order; empty text is no cells. Raises `ValueError` saying what to fix."""
    if not raw.strip():
        return ()
    cells: list[tuple[str, str]] = []
    for entry in _ENTRY_SEPARATOR.split(raw.strip()):
        name, sep, url = (part.strip() for part in entry.partition("="))
        if not sep or not url:
            raise ValueError(f"{entry.strip()!r} is not name=url (e.g. east=redis://10.0.0.1:6379/0)")
        cells.append((name, url))
    return checked_cells(cells)


def checked_cells(cells: Cells | Mapping[str, str] | list[tuple[str, str]]) -> Cells:
    """The cells as given, once every name and URL is valid and none is given twice; raises
    `ValueError` naming the first problem."""
    items = list(cells.items()) if isinstance(cells, Mapping) else list(cells)
    seen_names: set[str] = set()
    seen_urls: dict[str, str] = {}
    for name, url in items:
        problem = cell_name_problem(name)
        if problem:
            raise ValueError(problem)
        if name in seen_names:
            raise ValueError(f"cell {name!r} is given twice: every cell name must be unique")
        if not url.startswith(CELL_URL_SCHEMES):
            raise ValueError(f"cell {name!r}: {url!r} is not a Redis URL (expected one of "
                             f"{', '.join(CELL_URL_SCHEMES)})")
        if url in seen_urls:
            raise ValueError(f"cells {seen_urls[url]!r} and {name!r} name the same Redis: each "
                             "cell is its own Redis primary")
        seen_names.add(name)
        seen_urls[url] = name
    return tuple(items)


def parse_cell(raw: str) -> str:
    """``RELIER_CELL``: empty, or a valid cell name."""
    name = raw.strip()
    problem = cell_name_problem(name) if name else None
    if problem:
        raise ValueError(problem)
    return name


def home_cell_url(cells: Cells, cell: str, redis_url: str | None) -> str:
    """The Redis this process calls its own: RELIER_CELL's cell, else the first one listed.

    `redis_url` is RELIER_REDIS_URL when it is set; with cells it may only repeat the home
    cell's URL. Raises `ValueError` saying which setting to change."""
    names = [name for name, _ in cells]
    if cell and cell not in names:
        raise ValueError(f"RELIER_CELL={cell} is not one of RELIER_CELLS ({', '.join(names)}): "
                         "set it to the cell this process serves")
    home, url = next((item for item in cells if item[0] == cell), cells[0])
    if redis_url is not None and redis_url != url:
        raise ValueError(
            f"RELIER_REDIS_URL does not name cell {home!r}'s Redis: with RELIER_CELLS each "
            "cell's URL is given there; unset RELIER_REDIS_URL")
    return url
