"""The task lifecycle as plain data: states and the transitions allowed between them.

The Lua scripts in lua_scripts/ enforce these rules inside Redis; this module is the same
table for Python code, documentation and property tests.
"""

from __future__ import annotations

from enum import StrEnum


class TaskState(StrEnum):
    SCHEDULED = "scheduled"
    QUEUED = "queued"
    RESERVED = "reserved"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    DEAD_LETTERED = "dead_lettered"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATES


TERMINAL_STATES = frozenset(
    {TaskState.COMPLETED, TaskState.FAILED, TaskState.DEAD_LETTERED, TaskState.CANCELLED}
)

_S = TaskState

#: transition name -> (states it may start from, states it may end in)
TRANSITIONS: dict[str, tuple[frozenset[TaskState], frozenset[TaskState]]] = {
    "dispatch": (frozenset(), frozenset({_S.QUEUED, _S.SCHEDULED})),
    "receive": (frozenset({_S.QUEUED}), frozenset({_S.RESERVED})),
    "start": (frozenset({_S.QUEUED, _S.RESERVED}), frozenset({_S.RUNNING})),
    "complete": (frozenset({_S.RUNNING}), frozenset({_S.COMPLETED})),
    "fail": (frozenset({_S.RUNNING}), frozenset({_S.SCHEDULED, _S.FAILED, _S.DEAD_LETTERED})),
    "reject": (frozenset({_S.QUEUED, _S.RESERVED}), frozenset({_S.DEAD_LETTERED})),
    "lost": (frozenset({_S.RESERVED, _S.RUNNING}), frozenset({_S.QUEUED, _S.DEAD_LETTERED})),
    "reap": (frozenset({_S.RESERVED, _S.RUNNING}), frozenset({_S.QUEUED, _S.DEAD_LETTERED})),
}


def can_transition(name: str, current: TaskState | None, target: TaskState) -> bool:
    """Whether transition `name` may move a task from `current` (None: no record) to `target`."""
    sources, targets = TRANSITIONS[name]
    if current is None:
        return not sources and target in targets
    return current in sources and target in targets
