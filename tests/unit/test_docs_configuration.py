"""The reference docs name exactly the settings and scripts the code has."""

from __future__ import annotations

import re
from pathlib import Path

from relier.config import LEGACY_SETTINGS, TOOL_VARIABLES, describe, setting_names
from relier.scripts import SCRIPT_NAMES

DOCS = Path(__file__).resolve().parents[2] / "docs"
CONFIGURATION = DOCS / "configuration.md"
ARCHITECTURE = DOCS / "architecture.md"

_SETTING_NAME = re.compile(r"\bRELIER_[A-Z_]+")
_TABLE_ROW = re.compile(r"^\|\s*`(RELIER_[A-Z_]+)`\s*\|\s*(.*?)\s*\|", re.MULTILINE)
_SCRIPT_HEADING = re.compile(r"^#+\s+`?([a-z_]+)\.lua`?\s*$", re.MULTILINE)


def _difference_message(documented: set[str], declared: set[str]) -> str:
    missing = sorted(declared - documented)
    extra = sorted(documented - declared)
    return (
        f"docs/configuration.md is out of step with relier.config.SETTINGS: "
        f"missing (declared, not documented): {missing or 'none'}; "
        f"extra (documented, not declared): {extra or 'none'}"
    )


def test_every_setting_is_documented_and_nothing_else() -> None:
    documented = set(_SETTING_NAME.findall(CONFIGURATION.read_text()))
    declared = set(setting_names()) | set(LEGACY_SETTINGS) | TOOL_VARIABLES
    assert documented == declared, _difference_message(documented, declared)


def test_settings_table_has_one_row_per_setting_in_declaration_order() -> None:
    rows = _TABLE_ROW.findall(CONFIGURATION.read_text().split("## How settings are read")[0])
    names = [name for name, _ in rows]
    assert names == setting_names(), (
        "the settings table in docs/configuration.md must list every setting once, in the "
        f"order relier.config.SETTINGS declares them: expected {setting_names()}, got {names}"
    )
    for name, default in rows:
        expected = describe(name).default
        shown = f"`{expected}`" if expected else "(empty)"
        assert default == shown, f"{name}: docs say default {default}, config has {shown}"


def test_every_script_is_described_in_the_architecture() -> None:
    text = ARCHITECTURE.read_text()
    undocumented = [name for name in SCRIPT_NAMES if f"{name}.lua" not in text]
    headings = set(_SCRIPT_HEADING.findall(text))
    without_heading = [name for name in SCRIPT_NAMES if name not in headings]
    assert not undocumented, f"docs/architecture.md never mentions: {undocumented}"
    assert not without_heading, (
        f"docs/architecture.md has no section heading for: {without_heading} "
        "(expected a heading like ### `dispatch.lua`)"
    )
