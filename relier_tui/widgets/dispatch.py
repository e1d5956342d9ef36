"""Dispatch: push a task by name with JSON arguments, validated before anything is sent."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.suggester import SuggestFromList
from textual.widgets import Button, Input, Label, Static

from relier_tui.literal import literal


@dataclass(frozen=True, slots=True)
class DispatchRequest:
    task: str
    args: list[Any]
    kwargs: dict[str, Any]
    queue: str | None


def validate(task: str, args_text: str, kwargs_text: str, queue: str) -> DispatchRequest:
    """The request, or ValueError with one line saying what is wrong."""
    task = task.strip()
    if not task:
        raise ValueError("task name is empty")
    try:
        args = json.loads(args_text or "[]")
    except json.JSONDecodeError as exc:
        raise ValueError(f"args: not JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(args, list):
        raise ValueError("args: must be a JSON array, like [\"cus_1\", 5000]")
    try:
        kwargs = json.loads(kwargs_text or "{}")
    except json.JSONDecodeError as exc:
        raise ValueError(f"kwargs: not JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(kwargs, dict):
        raise ValueError("kwargs: must be a JSON object, like {\"amount_cents\": 5000}")
    return DispatchRequest(task, args, kwargs, queue.strip() or None)


class DispatchPane(Vertical):
    def __init__(self, task_names: list[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.task_names = task_names

    def compose(self) -> ComposeResult:
        yield Label("task name")
        yield Input(placeholder="billing.charge", id="dispatch-task",
                    suggester=SuggestFromList(self.task_names, case_sensitive=False))
        yield Label("args (JSON array)")
        yield Input(value="[]", id="dispatch-args")
        yield Label("kwargs (JSON object)")
        yield Input(value="{}", id="dispatch-kwargs")
        yield Label("queue (empty: the task's own)")
        yield Input(placeholder="default", id="dispatch-queue")
        with Horizontal(classes="buttons"):
            yield Button("Push (ctrl+s)", variant="success", id="dispatch-push")
        yield Static("", id="dispatch-status")

    def request(self) -> DispatchRequest:
        return validate(self.query_one("#dispatch-task", Input).value,
                        self.query_one("#dispatch-args", Input).value,
                        self.query_one("#dispatch-kwargs", Input).value,
                        self.query_one("#dispatch-queue", Input).value)

    def say(self, text: str, *, error: bool = False) -> None:
        status = self.query_one("#dispatch-status", Static)
        status.update(literal(text))
        status.set_class(error, "error")
