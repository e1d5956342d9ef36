"""Dispatch: push a task by name with JSON arguments, validated before anything is sent; the
push and the following of its state run in a thread worker."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import redis
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.suggester import SuggestFromList
from textual.widgets import Button, Input, Label, Static
from textual.worker import get_current_worker

from relier_tui.literal import literal
from relier_tui.source import ConsoleSource
from relier_tui.widgets.pane import Pane

#: how long the pane follows a pushed task's state
FOLLOW_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class DispatchRequest:
    """A validated push: task name, arguments, and the queue (None: the task's own)."""

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


class DispatchPane(Pane, can_focus=True):
    """Pane 6: the push form. The pane itself has the focus when shown, so the console's keys
    work; Tab moves into the form, Esc leaves it, ctrl+s or Enter in a field pushes."""

    TITLE = "Dispatch"
    BINDINGS = [Binding("ctrl+s", "push", "Push", tooltip="Push the task the form describes")]

    def __init__(self, source: ConsoleSource, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.source = source

    def compose(self) -> ComposeResult:
        """The form (one line per field), the Push button and the status line."""
        yield Static("Tab: into the form · Esc: out of it · ctrl+s or Enter: push", classes="hint")
        fields = [("task", Input(placeholder="billing.charge", id="dispatch-task", compact=True,
                                 suggester=SuggestFromList(self.source.task_names(), case_sensitive=False))),
                  ("args", Input(value="[]", id="dispatch-args", compact=True,
                                 tooltip='JSON array, like ["cus_1", 5000]')),
                  ("kwargs", Input(value="{}", id="dispatch-kwargs", compact=True,
                                   tooltip='JSON object, like {"amount_cents": 5000}')),
                  ("queue", Input(placeholder="(empty: the task's own queue)", id="dispatch-queue",
                                  compact=True))]
        for label, field in fields:
            with Horizontal(classes="field"):
                yield Label(label, classes="field-label")
                yield field
        with Horizontal(classes="buttons"):
            yield Button("Push (ctrl+s)", variant="success", id="dispatch-push", compact=True)
        yield Static("", id="dispatch-status")

    def request(self) -> DispatchRequest:
        """The request the form describes (ValueError says what is wrong)."""
        return validate(self.query_one("#dispatch-task", Input).value,
                        self.query_one("#dispatch-args", Input).value,
                        self.query_one("#dispatch-kwargs", Input).value,
                        self.query_one("#dispatch-queue", Input).value)

    def say(self, text: str, *, error: bool = False) -> None:
        """The status line: what happened to the last push."""
        status = self.query_one("#dispatch-status", Static)
        status.update(literal(text))
        status.set_class(error, "error")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """The Push button."""
        if event.button.id == "dispatch-push":
            event.stop()
            self.action_push()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter in a field pushes."""
        event.stop()
        self.action_push()

    def action_push(self) -> None:
        """Validate the form and push the task; the status line follows its state."""
        try:
            request = self.request()
        except ValueError as exc:
            self.say(str(exc), error=True)
            return
        self.say(f"pushing {request.task}…")
        self._push(request)

    @work(thread=True, group="dispatch", name="push", exit_on_error=False)
    def _push(self, request: DispatchRequest) -> None:
        worker = get_current_worker()
        try:
            task_id = self.source.push(request.task, request.args, request.kwargs, request.queue)
        except Exception as exc:  # noqa: BLE001 - every refusal is shown to the operator as is
            self.app.call_from_thread(self.say, f"not pushed: {type(exc).__name__}: {exc}", error=True)
            return
        state = "queued"
        deadline = time.monotonic() + FOLLOW_SECONDS
        while time.monotonic() < deadline and state not in {"completed", "dead_lettered"}:
            if worker.is_cancelled:
                return
            self.app.call_from_thread(self.say, f"pushed {request.task} {task_id}: {state}")
            time.sleep(0.2)
            try:
                state = self.source.task_state(task_id)
            except redis.RedisError:
                break
        self.app.call_from_thread(self.say, f"pushed {request.task} {task_id}: {state}",
                                  error=state == "dead_lettered")
