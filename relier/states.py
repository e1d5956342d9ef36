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
    DEAD_LETTERED = "dead_lettered"
    #: Revoked, or expired before it started (Celery's REVOKED).
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATES


TERMINAL_STATES = frozenset({TaskState.COMPLETED, TaskState.DEAD_LETTERED, TaskState.CANCELLED})

_S = TaskState
_PENDING = frozenset({_S.QUEUED, _S.RESERVED})
_HELD = frozenset({_S.RESERVED, _S.RUNNING})

#: script -> (states it may start from (empty: no record yet), states it may end in). Every
#: script that writes a task's state is here, and tests/unit/test_states.py reads each script
#: to check it writes no other state.
TRANSITIONS: dict[str, tuple[frozenset[TaskState], frozenset[TaskState]]] = {
    "dispatch": (frozenset(), frozenset({_S.QUEUED, _S.SCHEDULED})),
    "dead_letter_raw": (frozenset(), frozenset({_S.DEAD_LETTERED})),
    "receive": (frozenset({_S.QUEUED}), frozenset({_S.RESERVED})),
    "start": (_PENDING, frozenset({_S.RUNNING, _S.COMPLETED, _S.SCHEDULED, _S.CANCELLED})),
    "complete": (frozenset({_S.RUNNING}), frozenset({_S.COMPLETED})),
    "fail": (frozenset({_S.RUNNING}), frozenset({_S.SCHEDULED, _S.DEAD_LETTERED})),
    "hard_timeout": (frozenset({_S.RUNNING}), frozenset({_S.DEAD_LETTERED})),
    "reject": (_PENDING, frozenset({_S.DEAD_LETTERED})),
    "bounce": (_PENDING, frozenset({_S.SCHEDULED, _S.DEAD_LETTERED})),
    "lost": (_HELD, frozenset({_S.QUEUED, _S.DEAD_LETTERED})),
    "reap": (_HELD, frozenset({_S.QUEUED, _S.DEAD_LETTERED})),
    "reconcile": (frozenset({_S.QUEUED}), frozenset({_S.QUEUED, _S.DEAD_LETTERED})),
    "promote": (frozenset({_S.SCHEDULED}), frozenset({_S.QUEUED})),
    "release": (frozenset({_S.DEAD_LETTERED}), frozenset({_S.QUEUED})),
    "cancel": (frozenset({_S.SCHEDULED, _S.QUEUED, _S.RESERVED, _S.RUNNING}),
               frozenset({_S.CANCELLED})),
}

#: States of the tasks a transition creates besides moving its own (`relier.canvas`: a chain's
#: next step, callbacks, errbacks, a chord's join; a chord body whose header task failed is
#: created dead-lettered).
CREATES: dict[str, frozenset[TaskState]] = {
    name: frozenset({_S.QUEUED, _S.SCHEDULED, _S.DEAD_LETTERED})
    for name in ("complete", "fail", "hard_timeout")
}


def can_transition(name: str, current: TaskState | None, target: TaskState) -> bool:
    """Whether transition `name` may move a task from `current` (None: no record) to `target`."""
    sources, targets = TRANSITIONS[name]
    if current is None:
        return not sources and target in targets
    return current in sources and target in targets
