"""Every Lua script's header lists exactly the KEYS and ARGV its Python builder sends."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from relier.keys import BrokerKeys, Keys
from relier.scripts import SCRIPT_NAMES, scripts_dir
from relier.store import CREATE_ARGS, CREATE_KEYS, SHAPES, SHARED_KEYS, Contract, Reply

_ENTRY = re.compile(r"\b(KEYS|ARGV)\[(\d+)(\.\.)?\]\s+(\w+)")
_OWN_KEYS_START, _OWN_ARGS_START = len(SHARED_KEYS) + 1, 2


def _header(name: str) -> list[str]:
    lines = (scripts_dir() / f"{name}.lua").read_text().splitlines()
    return lines[: next(i for i, line in enumerate(lines) if not line.startswith("--"))]


def _declared(name: str) -> tuple[dict[int, str], dict[int, str], list[str], bool]:
    """(KEYS index -> name, ARGV index -> name, key group names, has a variable ARGV tail)."""
    keys: dict[int, str] = {}
    args: dict[int, str] = {}
    group: list[str] = []
    rest = False
    for line in _header(name):
        for kind, index, open_ended, text in _ENTRY.findall(line):
            if open_ended and kind == "KEYS":  # "-- KEYS[11..] per task, in ARGV order: a, b"
                group = [part.strip() for part in line.split(":", 1)[1].split(",")]
            elif open_ended:
                rest = True
            else:
                (keys if kind == "KEYS" else args)[int(index)] = text
    return keys, args, group, rest


def test_every_script_has_a_shape() -> None:
    assert set(SHAPES) == set(SCRIPT_NAMES)
    assert set(SCRIPT_NAMES) == {path.stem for path in scripts_dir().glob("*.lua")} - {"_prelude"}


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_header_matches_the_builder(name: str) -> None:
    keys, args, group, rest = _declared(name)
    shape = SHAPES[name]
    assert keys == {i + _OWN_KEYS_START: key for i, key in enumerate(shape.keys)}, name
    assert args == {i + _OWN_ARGS_START: arg for i, arg in enumerate(shape.args)}, name
    assert group == list(shape.key_group), name
    assert rest == bool(shape.rest), name


def test_the_prelude_names_the_shared_keys_in_order() -> None:
    prelude = "\n".join(line for line in (scripts_dir() / "_prelude.lua").read_text().splitlines()
                        if line.startswith("--"))
    named = {int(i): n for kind, i, _, n in _ENTRY.findall(prelude) if kind == "KEYS"}
    assert [named[i + 1] for i in range(len(SHARED_KEYS))] == list(SHARED_KEYS)


def test_the_prelude_reads_a_created_task_as_the_builder_writes_it() -> None:
    prelude = (scripts_dir() / "_prelude.lua").read_text()
    assert f"local CREATE_ARGS = {len(CREATE_ARGS)}\n" in prelude
    reader = prelude[prelude.index("local function created_at"):]
    reader = reader[: reader.index("\nend\n")]
    keys = dict(re.findall(r"(\w+) = KEYS\[k(?: \+ (\d))?\]", reader))
    args = {int(offset or 0): field
            for field, offset in re.findall(r"(\w+) = ARGV\[a(?: \+ (\d+))?\]", reader)}
    assert sorted(keys.values()) == ["", "1", "2"]
    assert len(keys) == len(CREATE_KEYS)
    lua_name = {"task_id": "id", "task_name": "name", "idem_digest": "digest",
                "max_resurrections": "max_res", "due_ms": "due", "delay_ms": "delay",
                "expires_ms": "expires", "expires_in_ms": "expires_in"}
    assert args == {i: lua_name.get(arg, arg) for i, arg in enumerate(CREATE_ARGS)}


def test_builder_puts_shared_keys_first_and_refuses_unknown_names() -> None:
    contract = Contract(Keys("rl"), BrokerKeys(), 100)
    call = contract.call("checkpoint", keys={"record": "rl:t:1"},
                         args={"fence": 1, "encoded": b"x", "task_id": "1"})
    assert call.keys == ["rl:events", "rl:dlq", "rl:queued", "rl:delayed", "rl:slo", "rl:leases",
                         "unacked", "unacked_index", "rl:t:1"]
    assert call.args == [100, 1, b"x", "1"]
    with pytest.raises(ValueError, match="missing \\['task_id'\\]"):
        contract.call("checkpoint", keys={"record": "r"}, args={"fence": 1, "encoded": b""})


def test_every_reply_a_script_returns_is_a_reply_member() -> None:
    replies = set()
    for name in SCRIPT_NAMES:
        text = (scripts_dir() / f"{name}.lua").read_text()
        replies |= set(re.findall(r"return \{?'([a-z_]+)'", text))
    assert replies <= {member.value for member in Reply}


def test_no_script_builds_a_key() -> None:
    for path in Path(scripts_dir()).glob("*.lua"):
        assert "rl:" not in "".join(line for line in path.read_text().splitlines()
                                    if not line.startswith("--")), path.name
