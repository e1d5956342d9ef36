"""Each script is loaded with the prelude parts it uses, and with nothing else."""

from __future__ import annotations

import re

import pytest

from relier.scripts import SCRIPT_NAMES, assemble, prelude_parts, scripts_dir, source

PRELUDE = """\
-- header comment, kept with nothing
local A, B = KEYS[1], KEYS[2]
local LIMIT = ARGV[1]

-- uses A
local function first(x)
  -- a comment naming second() is not a use
  return redis.call('GET', A) .. x
end

local TABLE = {done = true}

-- uses first, and the string 'TABLE' is not a use
local function second()
  return first('TABLE')
end

local function unused()
  return B
end
"""


def _defined(text: str) -> list[str]:
    return re.findall(r"^local function (\w+)", text, re.MULTILINE)


def test_the_prelude_is_cut_at_each_top_level_statement() -> None:
    parts = prelude_parts(PRELUDE)
    assert [sorted(part.defines) for part in parts] == [
        ["A", "B"], ["LIMIT"], ["first"], ["TABLE"], ["second"], ["unused"]]
    assert parts[2].text.startswith("-- uses A\nlocal function first(x)")
    assert parts[2].text.endswith("end")


def test_a_script_gets_what_it_calls_and_what_that_calls() -> None:
    text = assemble(PRELUDE, "return second()")
    assert _defined(text) == ["first", "second"]
    assert "local A, B = KEYS[1], KEYS[2]" in text  # first reads A
    assert "LIMIT" not in text
    assert "TABLE = " not in text  # only named inside a string
    assert text.endswith("return second()")


def test_a_script_using_nothing_gets_nothing() -> None:
    assert assemble(PRELUDE, "-- first() is only named here\nreturn 1") == (
        "-- first() is only named here\nreturn 1")


@pytest.mark.parametrize("name", SCRIPT_NAMES)
def test_every_prelude_name_a_script_reaches_is_defined_before_its_use(name: str) -> None:
    parts = prelude_parts((scripts_dir() / "_prelude.lua").read_text())
    everything = set().union(*(part.defines for part in parts))
    text = source(name)
    kept = [part for part in parts if part.text in text]
    defined = set().union(*(part.defines for part in kept))
    script = (scripts_dir() / f"{name}.lua").read_text()
    used = set(re.findall(r"[A-Za-z_]\w*", "\n".join(
        line.split("--", 1)[0] for line in script.splitlines()))) & everything
    assert used <= defined, name
    for part in kept:  # in the prelude's order: a part comes after the parts it reads
        reads = set(re.findall(r"[A-Za-z_]\w*", part.code)) & everything - part.defines
        assert all(text.index(other.text) < text.index(part.text)
                   for other in kept if other.defines & reads), (name, part.defines)
