"""Loading relier's Lua scripts: the only code that changes relier's Redis state.

Each script is a file in lua_scripts/ (shipped inside the wheel as relier/_lua). The shared
prelude is prepended before loading. redis-py's Script objects call EVALSHA and reload the
script after NOSCRIPT (a restart or failover empties the script cache).
"""

from __future__ import annotations

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


@cache
def source(name: str) -> str:
    """The full text Redis runs for script `name`: prelude plus the script itself."""
    directory = scripts_dir()
    prelude = (directory / "_prelude.lua").read_text()
    return prelude + "\n" + (directory / f"{name}.lua").read_text()


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
