"""Versioned arguments: change a task's signature while messages of the old one are queued.

Version 1 took `first` and `last`; version 2 takes `full_name`. Workers running this code
upgrade version-1 messages before the body sees them; workers still on version 1 bounce
version-2 messages until a new worker takes them (so deploy workers first).
"""

from __future__ import annotations

from relier import Arguments, rl_task


@rl_task(name="accounts.greet", version=2)
def greet(*, full_name: str, greeting: str = "Hello") -> str:
    return f"{greeting}, {full_name}"


@greet.migration(from_version=1)
def full_name_from_first_and_last(old: Arguments) -> Arguments:
    kwargs = dict(old.kwargs)
    kwargs["full_name"] = f"{kwargs.pop('first')} {kwargs.pop('last')}"
    return Arguments(old.args, kwargs)
