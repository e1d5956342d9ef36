"""Loading relier's Lua scripts: the only code that changes relier's Redis state.

Each script is a file in lua_scripts/ (shipped inside the wheel as relier/_lua). Before
loading, each gets the part of the shared prelude it uses (`assemble`): Redis runs a script's
whole text on every call, so a definition it never calls would still cost each call a closure.
redis-py's Script objects call EVALSHA and reload the script after NOSCRIPT (a restart or
failover empties the script cache).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import redis
import redis.asyncio
from redis.commands.core import AsyncScript, Script

SCRIPT_NAMES = (
    "dispatch",
    "receive",
    "start",
    "complete",
    "fail",
    "reject",
    "dead_letter_raw",
    "lost",
    "refresh",
    "tick",
    "reap",
    "reconcile",
    "checkpoint",
    "hard_timeout",
    "promote",
    "lock",
    "bounce",
    "release",
    "purge",
    "mark_handoff",
    "cancel",
)


def scripts_dir() -> Path:
    """Where the .lua files are: inside the installed package, or the source checkout."""
    packaged = Path(__file__).parent / "_lua"
    if packaged.is_dir():
        return packaged
    return Path(__file__).parent.parent / "lua_scripts"


@dataclass(frozen=True, slots=True)
class PreludePart:
    """One top-level statement of the prelude, with the comment lines above it: the local
    names it defines and the code (comments and strings left out) it runs."""

    text: str
    defines: frozenset[str]
    code: str


_DEFINITION = re.compile(r"^local\s+(?:function\s+(\w+)|([\w\s,]+?)\s*=)", re.MULTILINE)
_NAME = re.compile(r"[A-Za-z_]\w*")
_STRING = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")


def _code_of(text: str) -> str:
    """`text` without its comments and string literals (relier's Lua has no ``--`` in a
    string), so that only the names code uses are left."""
    return _STRING.sub("''", "\n".join(line.split("--", 1)[0] for line in text.splitlines()))


def prelude_parts(prelude: str) -> list[PreludePart]:
    """The prelude cut where a top-level statement starts (a line at column 0 that is not a
    comment, ``end`` or blank); each part keeps the comment lines just above it."""
    parts: list[PreludePart] = []
    pending: list[str] = []  # comment and blank lines not yet known to belong to a part
    current: list[str] = []

    def close() -> None:
        if current:
            text = "\n".join(current).strip("\n")
            names: set[str] = set()
            for function, variables in _DEFINITION.findall(text):
                names.update([function] if function else
                             (part.strip() for part in variables.split(",")))
            parts.append(PreludePart(text, frozenset(names), _code_of(text)))
            current.clear()

    for line in prelude.splitlines():
        if not line or line.startswith("--"):
            pending.append(line)
            continue
        if not (line[0].isspace() or line.startswith("end")):
            close()  # a new top-level statement
        current.extend(pending)
        current.append(line)
        pending.clear()
    close()
    return parts


def assemble(prelude: str, script: str) -> str:
    """`script` after the prelude's parts it uses, directly or through another part, in the
    prelude's order (a Lua local must be defined before the code that reads it)."""
    parts = prelude_parts(prelude)
    needed: set[int] = set()
    frontier = {*_NAME.findall(_code_of(script))}
    while True:
        added = {i for i, part in enumerate(parts)
                 if i not in needed and part.defines & frontier}
        if not added:
            break
        needed |= added
        frontier = {name for i in added for name in _NAME.findall(parts[i].code)}
    kept = [part.text for i, part in enumerate(parts) if i in needed]
    return "\n\n".join([*kept, script])


@cache
def source(name: str) -> str:
    """The full text Redis runs for script `name`: the prelude parts it uses, then the script."""
    directory = scripts_dir()
    return assemble((directory / "_prelude.lua").read_text(),
                    (directory / f"{name}.lua").read_text())


class ScriptSet:
    """Every script registered on one synchronous client."""

    def __init__(self, client: redis.Redis) -> None:
        self._scripts: dict[str, Script] = {
            name: client.register_script(source(name)) for name in SCRIPT_NAMES
        }

    def run(self, name: str, keys: list[str], args: list[Any], client: Any = None) -> Any:
        """Run `name`; with a pipeline as `client`, queue it there (loaded first if needed)."""
        return self._scripts[name](keys=keys, args=args, client=client)


class AsyncScriptSet:
    """Every script registered on one asyncio client."""

    def __init__(self, client: redis.asyncio.Redis) -> None:
        self._scripts: dict[str, AsyncScript] = {
            name: client.register_script(source(name)) for name in SCRIPT_NAMES
        }

    async def run(self, name: str, keys: list[str], args: list[Any], client: Any = None) -> Any:
        return await self._scripts[name](keys=keys, args=args, client=client)
