"""docs/console.md documents every key binding the console has (the app's, the screen's, and
every widget's and dialog's) in a table generated from the bindings, the same list as the help's;
every section of the detail view; every table's columns in the order narrow terminals keep
them; and its screenshots exist."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from pathlib import Path

from textual.app import App
from textual.binding import Binding
from textual.screen import Screen

import relier_tui.screens
import relier_tui.widgets
from relier_tui.app import PANES, RelierConsole
from relier_tui.keys import help_sections, key_label, key_markdown
from relier_tui.leases import LeaseLimits
from relier_tui.task_sections import task_sections
from relier_tui.task_view import TaskRead, task_view
from relier_tui.widgets import admission, dead_letters, inflight, workers
from relier_tui.widgets.columns import Column
from tests.tui.task_records import KEYS, NOW_MS, history_entries, running_record

DOCS = Path(__file__).resolve().parents[2] / "docs"
CONSOLE = (DOCS / "console.md").read_text()
KEYS_SECTION = CONSOLE.split("## Keys", 1)[1].split("\n## ", 1)[0]
DETAIL_SECTION = CONSOLE.split("## The detail view", 1)[1].split("\n## ", 1)[0]
COLUMNS_TABLE = re.compile(r"<!-- columns: [^\n]*-->\n(.*?)<!-- /columns -->", re.DOTALL)
#: the docs' name of each table, and its columns
TABLES: dict[str, list[Column]] = {
    "Inflight": inflight.COLUMNS, "Workers": workers.COLUMNS, "Dead letters": dead_letters.COLUMNS,
    "Admission limits": admission.LIMIT_COLUMNS, "SLO burn rates": admission.SLO_COLUMNS,
}
GENERATED = re.compile(r"<!-- keys: [^\n]*-->\n(.*?)<!-- /keys -->", re.DOTALL)


def _classes() -> list[type]:
    """The app, Textual's App and Screen (quit, focus keys), and every relier_tui widget and
    screen class that declares BINDINGS."""
    classes: list[type] = [RelierConsole, App, Screen]
    for package in (relier_tui.widgets, relier_tui.screens):
        for info in pkgutil.iter_modules(package.__path__):
            module = importlib.import_module(f"{package.__name__}.{info.name}")
            classes += [cls for _, cls in inspect.getmembers(module, inspect.isclass)
                        if cls.__module__ == module.__name__ and "BINDINGS" in vars(cls)]
    return classes


def test_every_console_key_is_documented() -> None:
    documented = set(re.findall(r"`([^`]+)`", KEYS_SECTION))
    missing = set()
    for cls in _classes():
        for binding in Binding.make_bindings(vars(cls)["BINDINGS"]):
            if not binding.description or binding.system:
                continue
            label = key_label(binding.key)
            if label not in documented:
                missing.add(f"{cls.__name__}: {label}")
    assert not missing, f"docs/console.md does not document the keys {sorted(missing)}"


def test_the_key_table_is_the_one_the_bindings_generate() -> None:
    """The table between the markers is `key_markdown` of the help's sections: the docs list the
    keys the help lists, with the same words. After changing a binding, paste what this prints."""
    found = GENERATED.search(KEYS_SECTION)
    assert found, "docs/console.md has no generated key table between its markers"
    generated = key_markdown(help_sections(RelierConsole, list(PANES.values())))
    assert found.group(1) == generated, f"replace the key table in docs/console.md with:\n{generated}"


def test_every_screenshot_exists() -> None:
    images = re.findall(r"\]\((img/[^)]+)\)", CONSOLE)
    assert images
    for image in images:
        assert (DOCS / image).exists(), image


def test_every_section_of_the_detail_view_is_documented() -> None:
    record = {**running_record(), "result": running_record()["partial"], "error": b"boom",
              "exc_type": b"ValueError", "traceback": b"Traceback ..."}
    view = task_view(TaskRead("t", record, history_entries(), NOW_MS, NOW_MS), KEYS, ())
    titles = [title for title, _ in task_sections(view, LeaseLimits(30.0, 10.0))]
    assert titles == ["status", "arguments", "checkpoint", "result", "error", "attempts", "record"]
    documented = re.findall(r"^- `([a-z]+)`", DETAIL_SECTION, re.MULTILINE)
    documented += re.findall(r"^- `[a-z]+` \([^)]*\) and `([a-z]+)`", DETAIL_SECTION, re.MULTILINE)
    assert set(titles) <= set(documented), f"undocumented sections: {set(titles) - set(documented)}"
    assert "undecodable (N bytes)" in DETAIL_SECTION


def test_the_columns_narrow_terminals_keep_are_listed_in_their_order() -> None:
    found = COLUMNS_TABLE.search(CONSOLE)
    assert found, "docs/console.md has no columns table between its markers"
    rows = {cells[0]: re.findall(r"`([^`]+)`", cells[1])
            for line in found.group(1).splitlines()[2:]
            if (cells := [cell.strip() for cell in line.strip("|").split("|")])}
    expected = {name: [column.label for column in sorted(columns, key=lambda c: c.priority)]
                for name, columns in TABLES.items()}
    assert rows == expected
