"""The lifecycle table: terminal states, and which transitions may move which states."""

from __future__ import annotations

from relier.states import TERMINAL_STATES, TRANSITIONS, TaskState, can_transition


def test_terminal_states() -> None:
    assert {state for state in TaskState if state.is_terminal} == TERMINAL_STATES
    assert TaskState.COMPLETED.is_terminal
    assert not TaskState.RUNNING.is_terminal


def test_no_transition_leaves_a_terminal_state() -> None:
    for sources, _ in TRANSITIONS.values():
        assert not sources & TERMINAL_STATES


def test_start_only_from_queued_or_reserved() -> None:
    assert can_transition("start", TaskState.RESERVED, TaskState.RUNNING)
    assert can_transition("start", TaskState.QUEUED, TaskState.RUNNING)
    assert not can_transition("start", TaskState.RUNNING, TaskState.RUNNING)
    assert not can_transition("complete", TaskState.QUEUED, TaskState.COMPLETED)
    assert can_transition("dispatch", None, TaskState.QUEUED)
    assert not can_transition("receive", None, TaskState.RESERVED)
