"""`EventType` and docs/architecture.md name exactly the event types the Lua scripts emit."""

from __future__ import annotations

import re
from pathlib import Path

from relier.events import EventType
from relier.scripts import scripts_dir

ROOT = Path(__file__).resolve().parents[2]
EMIT = re.compile(r"emit\(\s*(?:running and '(\w+)' or '(\w+)'|'(\w+)')")


def _emitted() -> set[str]:
    names: set[str] = set()
    for script in scripts_dir().glob("*.lua"):
        for match in EMIT.finditer(script.read_text()):
            names |= {name for name in match.groups() if name}
    return names


def test_event_type_is_exactly_what_the_scripts_emit() -> None:
    emitted = _emitted()
    assert len(emitted) > 15
    assert {member.value for member in EventType} == emitted


def test_every_event_type_has_a_row_in_the_architecture() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text()
    section = text.split("| `type` | fields | emitted by |", 1)[1].split("\n\n", 1)[0]
    documented = set(re.findall(r"^\| `(\w+)` \|", section, re.MULTILINE))
    assert documented == {member.value for member in EventType}
