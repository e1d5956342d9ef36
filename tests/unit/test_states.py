"""The lifecycle table: terminal states, and which transitions may move which states."""

from __future__ import annotations

import re

from relier.scripts import SCRIPT_NAMES, scripts_dir
from relier.states import CREATES, TERMINAL_STATES, TRANSITIONS, TaskState, can_transition


def test_terminal_states() -> None:
    assert {state for state in TaskState if state.is_terminal} == TERMINAL_STATES
    assert TaskState.COMPLETED.is_terminal
    assert not TaskState.RUNNING.is_terminal


def test_only_an_operator_release_leaves_a_terminal_state() -> None:
    leaving = {name for name, (sources, _) in TRANSITIONS.items() if sources & TERMINAL_STATES}
    assert leaving == {"release"}


# What each prelude helper writes when a script calls it.
_HELPERS = {"bury(": {"dead_lettered"}, "requeue_front(": {"queued"}, "schedule(": {"scheduled"},
            "cancel(": {"cancelled"}, "create_task(": {"queued", "scheduled"},
            "create_continuation": {"queued", "scheduled", "dead_lettered"},
            "dead_letter_continuations(": {"queued", "scheduled", "dead_lettered"},
            "resurrect(": {"queued", "dead_lettered"}}


def _written(name: str) -> set[str]:
    code = "\n".join(line for line in (scripts_dir() / f"{name}.lua").read_text().splitlines()
                     if not line.lstrip().startswith("--"))
    # the record's state; an idempotency claim has states of its own ('pending', 'running')
    states = set(re.findall(r"redis\.call\('HSET', (?:rec|entry|task\.rec),[^)]*?'state', '(\w+)'",
                            code, flags=re.DOTALL))
    for call, targets in _HELPERS.items():
        if call in code:
            states |= targets
    return states


def test_every_script_writes_exactly_the_states_its_transition_allows() -> None:
    for name in SCRIPT_NAMES:
        written = _written(name)
        if name not in TRANSITIONS:
            assert not written, f"{name} writes {written} but is not in TRANSITIONS"
            continue
        allowed = TRANSITIONS[name][1] | CREATES.get(name, frozenset())
        assert written == {state.value for state in allowed}, name


def test_start_only_from_queued_or_reserved() -> None:
    assert can_transition("start", TaskState.RESERVED, TaskState.RUNNING)
    assert can_transition("start", TaskState.QUEUED, TaskState.RUNNING)
    assert not can_transition("start", TaskState.RUNNING, TaskState.RUNNING)
    assert not can_transition("complete", TaskState.QUEUED, TaskState.COMPLETED)
    assert can_transition("dispatch", None, TaskState.QUEUED)
    assert not can_transition("receive", None, TaskState.RESERVED)
