"""Task and queue names that could collide with relier's or kombu's keys are refused."""

from __future__ import annotations

import pytest
from celery import Celery

from relier import ConfigurationError, Relier
from relier.names import queue_name_problem, task_name_problem
from tests.support import settings_for


@pytest.mark.parametrize("queue", ["rl:dlq", "rl:queued", "rl:t:x", "unacked", "unacked_index",
                                   "_kombu.binding.celery", "a\x06\x163", "with space", "tab\t",
                                   "", "x" * 201, "\x1b[2J"])
def test_colliding_queue_names_are_refused(queue: str) -> None:
    assert queue_name_problem(queue, "rl") is not None


@pytest.mark.parametrize("queue", ["default", "rl", "rlx:dlq", "emails.high", "ünïcode"])
def test_ordinary_queue_names_are_accepted(queue: str) -> None:
    assert queue_name_problem(queue, "rl") is None


def test_the_transport_prefix_counts() -> None:
    assert queue_name_problem("dlq", "rl", global_prefix="rl:") is not None
    assert queue_name_problem("rl:dlq", "rl", global_prefix="app:") is None


@pytest.mark.parametrize("name", ["*", "a|b", "", "with space", "bell\x07", "x" * 201])
def test_task_names_that_break_counters_or_terminals_are_refused(name: str) -> None:
    assert task_name_problem(name) is not None


def test_decorator_and_per_call_queue_refuse_reserved_names() -> None:
    relier = Relier(Celery("names", set_as_current=False), settings=settings_for("redis://127.0.0.1:1/0"))
    with pytest.raises(ConfigurationError, match="relier's key prefix"):
        relier.task(name="t.bad", queue="rl:dlq")(lambda: None)
    with pytest.raises(ConfigurationError, match="SLO counters reserve"):
        relier.task(name="t|x")(lambda: None)
    task = relier.task(name="t.good")(lambda: None)
    with pytest.raises(ValueError, match="relier's key prefix"):
        task.push_with((), queue="rl:queued")
