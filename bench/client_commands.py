"""Redis commands and round trips this process sends, counted in redis-py as they go out.

``INFO commandstats`` counts what the server ran, for every client and inside scripts; `counting`
counts what the benchmark process itself sent, by phase (``delay()``, ``get()``...): every
command packed, alone or in a pipeline, and every write of a request to a socket (one per
command, or one per pipeline: a client round trip). A pub/sub connection's message reads send
nothing and count nothing. Only this process is counted: a worker's commands reach the server's
count, not this one.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from redis.connection import AbstractConnection

#: The phase of sends made outside any phase a benchmark named.
OTHER = "other"


def command_name(first: object) -> str:
    """A command's first argument as commandstats names it: ``GET`` -> ``get``,
    ``CLIENT SETNAME`` -> ``client|setname``."""
    text = first.decode(errors="replace") if isinstance(first, bytes | bytearray) else str(first)
    return "|".join(text.lower().split())


@dataclass(slots=True)
class ClientTally:
    """Commands (phase -> command -> count) and round trips (phase -> count) sent so far;
    sends are counted in `phase`, which the benchmark sets as it goes."""

    phase: str = OTHER
    commands: dict[str, Counter[str]] = field(default_factory=dict)
    round_trips: Counter[str] = field(default_factory=Counter)

    def command_sent(self, args: Sequence[object]) -> None:
        self.commands.setdefault(self.phase, Counter())[command_name(args[0])] += 1

    def request_written(self) -> None:
        self.round_trips[self.phase] += 1

    def commands_by_phase(self) -> dict[str, dict[str, int]]:
        """Plain dicts, phases and commands sorted (for JSON)."""
        return {phase: dict(sorted(found.items())) for phase, found in sorted(self.commands.items())}


def commands_in(by_phase: Mapping[str, Mapping[str, int]], phases: Iterable[str],
                also: Iterable[str] = ()) -> int:
    """Commands sent in `phases`, plus those named in `also` whatever their phase."""
    wanted, named = set(phases), set(also)
    return sum(count for phase, found in by_phase.items() for name, count in found.items()
               if phase in wanted or name in named)


@contextlib.contextmanager
def counting() -> Iterator[ClientTally]:
    """Count every command and request this process sends through redis-py, until exit.

    Patches redis-py's connection class (every client, kombu's and Celery's included) and
    restores it on exit; not for concurrent use.
    """
    tally = ClientTally()
    cls = AbstractConnection
    originals = {name: getattr(cls, name)
                 for name in ("send_packed_command", "send_command", "pack_commands")}

    def send_packed_command(self: AbstractConnection, command: Any, check_health: bool = True,
                            ) -> None:
        tally.request_written()
        originals["send_packed_command"](self, command, check_health)

    def send_command(self: AbstractConnection, *args: Any, **kwargs: Any) -> None:
        tally.command_sent(args)  # then packed and written by send_packed_command
        originals["send_command"](self, *args, **kwargs)

    def pack_commands(self: AbstractConnection, commands: Sequence[Sequence[Any]]) -> Any:
        for args in commands:  # a pipeline: several commands, one write
            tally.command_sent(args)
        return originals["pack_commands"](self, commands)

    patched = {"send_packed_command": send_packed_command, "send_command": send_command,
               "pack_commands": pack_commands}
    for name, replacement in patched.items():
        setattr(cls, name, replacement)
    try:
        yield tally
    finally:
        for name, original in originals.items():
            setattr(cls, name, original)
