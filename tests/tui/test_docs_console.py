"""docs/console.md documents every key binding the console has, and its screenshots exist."""

from __future__ import annotations

import re
from pathlib import Path

from textual.binding import Binding

from relier_tui.app import RelierConsole
from relier_tui.screens import ConfirmScreen, DetailScreen, HelpScreen

DOCS = Path(__file__).resolve().parents[2] / "docs"
CONSOLE = (DOCS / "console.md").read_text()
KEYS_SECTION = CONSOLE.split("## Keys", 1)[1].split("\n## ", 1)[0]
SHOWN = {"slash": "/", "question_mark": "?", "escape": "escape", "space": "space"}


def _keys(bindings: list[object]) -> set[str]:
    keys: set[str] = set()
    for binding in bindings:
        assert isinstance(binding, Binding)
        keys |= {SHOWN.get(key.strip(), key.strip()) for key in binding.key.split(",")}
    return keys


def test_every_console_key_is_documented() -> None:
    documented = set(re.findall(r"`([^`]+)`", KEYS_SECTION))
    missing = {key for key in _keys(list(RelierConsole.BINDINGS)) if key not in documented
               and not (key.isdigit() and "`1` ... `7`" in KEYS_SECTION)}
    assert not missing, f"docs/console.md does not document the keys {sorted(missing)}"


def test_dialog_and_detail_keys_are_documented() -> None:
    for screen in (ConfirmScreen, DetailScreen, HelpScreen):
        for key in _keys(list(screen.BINDINGS)):
            assert f"`{key}`" in KEYS_SECTION, f"{screen.__name__}: key {key} is not in docs/console.md"


def test_every_screenshot_exists() -> None:
    images = re.findall(r"\]\((img/[^)]+)\)", CONSOLE)
    assert images
    for image in images:
        assert (DOCS / image).exists(), image
