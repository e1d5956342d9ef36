"""What the operator does from the console: open a task or dead letter, release, retry or purge
dead letters, push a task, change an admission limit, run a chaos scenario. Each asks first
where it changes something, and runs its Redis I/O in a Textual thread worker."""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import redis
from textual import work
from textual.app import App
from textual.notifications import SeverityLevel
from textual.widgets import Button, TabbedContent

from relier.binding import Relier
from relier.display import safe_text
from relier.dlq import DeadLetter
from relier_tui.live import ChangeFeed
from relier_tui.screens import ConfirmScreen, DetailScreen, pretty
from relier_tui.source import ConsoleSource
from relier_tui.widgets.admission import AdmissionPane
from relier_tui.widgets.chaos import ChaosPane
from relier_tui.widgets.dead_letters import DeadLettersPane
from relier_tui.widgets.dispatch import DispatchPane
from relier_tui.widgets.keyed_table import KeyedTable


class ConsoleOperations(App[None]):
    """The console's actions; `RelierConsole` supplies the state they use."""

    relier: Relier
    source: ConsoleSource
    feed: ChangeFeed
    reload_now: threading.Event
    chaos_running: bool

    @property
    def active_pane(self) -> str:
        return str(self.query_one(TabbedContent).active)

    def tell(self, message: str, *, severity: SeverityLevel = "information",
             timeout: float | None = None) -> None:
        """A notification shown literally (its text often names tasks or errors from Redis)."""
        self.notify(safe_text(message), severity=severity, timeout=timeout, markup=False)

    def on_data_table_row_selected(self, event: KeyedTable.RowSelected) -> None:
        key = None if event.row_key.value is None else str(event.row_key.value)
        if key is None:
            return
        if event.data_table.id == "inflight-table":
            self.open_task(key)
        elif event.data_table.id == "dlq-table":
            self.open_dead_letter(key)

    @work(thread=True, group="detail", exit_on_error=False)
    def open_task(self, task_id: str) -> None:
        try:
            detail = self.source.task_detail(task_id)
        except redis.RedisError as exc:
            self.call_from_thread(self.tell, f"cannot read {task_id}: {exc}", severity="error")
            return
        if detail is None:
            self.call_from_thread(self.tell, f"{task_id} has no record any more", severity="warning")
            return
        fields = {k: v for k, v in detail.fields.items() if k not in {"partial"}}
        sections = [("arguments", pretty({"args": detail.args, "kwargs": detail.kwargs})),
                    ("checkpoint", pretty(detail.checkpoint)), ("record", pretty(fields)),
                    ("attempt history", pretty(detail.history))]
        self.call_from_thread(self.push_screen, DetailScreen(f"task {task_id}", sections))

    @work(thread=True, group="detail", exit_on_error=False)
    def open_dead_letter(self, task_id: str) -> None:
        try:
            shown = self.source.dead_letter(task_id)
        except redis.RedisError as exc:
            self.call_from_thread(self.tell, f"cannot read {task_id}: {exc}", severity="error")
            return
        if shown is None:
            self.call_from_thread(self.tell, f"{task_id} is no longer a dead letter", severity="warning")
            return
        history = shown.pop("history", [])
        traceback = str(shown.pop("traceback", "") or "(none)")
        sections = [("reason", f"{shown.get('reason', '')}: {shown.get('error', '')}"),
                    ("traceback", traceback), ("attempt history", pretty(history)),
                    ("record", pretty(shown))]
        self.call_from_thread(self.push_screen, DetailScreen(f"dead letter {task_id}", sections))

    def action_release(self) -> None:
        entry = self.query_one(DeadLettersPane).selected()
        if entry is None:
            self.tell("select a dead letter first", severity="warning")
            return
        if not entry.releasable:
            self.tell(f"{entry.id} cannot be released ({entry.reason}: no trusted envelope)",
                      severity="warning")
            return
        def release_if_confirmed(yes: bool | None) -> None:
            if yes:
                self._release(entry)

        self.push_screen(ConfirmScreen(f"Release {entry.task} {entry.id} ({entry.reason}) to its queue?",
                                       confirm_label="Release"), release_if_confirmed)

    @work(thread=True, group="dlq-action", exit_on_error=False)
    def _release(self, entry: DeadLetter) -> None:
        try:
            outcome = self.source.release(entry.id)
        except redis.RedisError as exc:
            outcome = f"failed: {exc}"
        self.call_from_thread(self.tell, f"release {entry.id[:8]}: {outcome}")
        self.reload_now.set()

    def action_retry_all(self) -> None:
        self._confirm_bulk("retry")

    def action_purge(self) -> None:
        self._confirm_bulk("purge")

    @work(thread=True, group="dlq-action", exit_on_error=False)
    def _confirm_bulk(self, what: str) -> None:
        where = self.query_one(DeadLettersPane).server_filter
        try:
            count = self.source.count_dead_letters(where)
        except redis.RedisError as exc:
            self.call_from_thread(self.tell, f"cannot count dead letters: {exc}", severity="error")
            return
        scope = "matching the filter" if where is not None else "(no filter: ALL of them)"
        question = (f"Release {count} dead letters {scope} to their queues (50 per second)?"
                    if what == "retry" else
                    f"Delete {count} dead letters {scope} for good? This cannot be undone.")
        label = "Retry all" if what == "retry" else "Purge"

        def act_if_confirmed(yes: bool | None) -> None:
            if yes:
                self._bulk(what)

        self.call_from_thread(self.push_screen, ConfirmScreen(question, confirm_label=label),
                              act_if_confirmed)

    @work(thread=True, group="dlq-action", exit_on_error=False)
    def _bulk(self, what: str) -> None:
        where = self.query_one(DeadLettersPane).server_filter
        try:
            if what == "retry":
                report = self.source.retry_all(where)
                text = f"released {len(report.released)}, refused {len(report.refused)}"
            else:
                text = f"purged {self.source.purge(where)}"
        except redis.RedisError as exc:
            text = f"{what} failed: {exc}"
        self.call_from_thread(self.tell, text)
        self.reload_now.set()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id in {"dispatch-push", "chaos-run"}:
            self.action_submit()
        elif event.button.id == "limit-apply":
            self._confirm_limit()

    def action_submit(self) -> None:
        if self.active_pane == "dispatch":
            self._push_from_form()
        elif self.active_pane == "chaos":
            self._start_chaos()

    def _push_from_form(self) -> None:
        pane = self.query_one(DispatchPane)
        try:
            request = pane.request()
        except ValueError as exc:
            pane.say(str(exc), error=True)
            return
        pane.say(f"pushing {request.task}…")
        self._push(request.task, request.args, request.kwargs, request.queue)

    @work(thread=True, group="dispatch", exit_on_error=False)
    def _push(self, task: str, args: list[Any], kwargs: dict[str, Any], queue: str | None) -> None:
        pane = self.query_one(DispatchPane)
        try:
            task_id = self.source.push(task, args, kwargs, queue)
        except Exception as exc:  # noqa: BLE001 - every refusal is shown to the operator as is
            self.call_from_thread(pane.say, f"not pushed: {type(exc).__name__}: {exc}", error=True)
            return
        state = "queued"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and state not in {"completed", "dead_lettered"}:
            self.call_from_thread(pane.say, f"pushed {task} {task_id}: {state}")
            self.feed.changed.wait(0.2)
            try:
                state = self.source.task_state(task_id)
            except redis.RedisError:
                break
        self.call_from_thread(pane.say, f"pushed {task} {task_id}: {state}",
                              error=state == "dead_lettered")

    def _confirm_limit(self) -> None:
        pane = self.query_one(AdmissionPane)
        try:
            change = pane.change()
        except ValueError as exc:
            pane.say(str(exc), error=True)
            return
        def apply_if_confirmed(yes: bool | None) -> None:
            if yes:
                self._apply_limit(change)
            else:
                pane.say("not changed")

        self.push_screen(ConfirmScreen(f"Change admission limits now? {change.describe()}",
                                       confirm_label="Apply"), apply_if_confirmed)

    @work(thread=True, group="admission", exit_on_error=False)
    def _apply_limit(self, change: Any) -> None:
        pane = self.query_one(AdmissionPane)
        try:
            self.source.set_limit(change.scope, change.name, rate=change.rate, burst=change.burst,
                                  max_depth=change.max_depth)
        except redis.RedisError as exc:
            self.call_from_thread(pane.say, f"not changed: {exc}", error=True)
            return
        self.call_from_thread(pane.say, f"applied: {change.describe()}")
        self.reload_now.set()

    def _start_chaos(self) -> None:
        pane = self.query_one(ChaosPane)
        if self.chaos_running:
            self.tell("a scenario is already running", severity="warning")
            return
        try:
            options = pane.options()
        except ValueError as exc:
            pane.verdict(None, str(exc))
            return
        self.chaos_running = True
        pane.verdict(None, f"running {pane.scenario}…")
        self._run_chaos(pane.scenario, options)

    @work(thread=True, group="chaos", exit_on_error=False)
    def _run_chaos(self, scenario: str, options: dict[str, Any]) -> None:
        from relier.chaos.engine import ChaosContext, LocalCluster, ScenarioUnavailableError  # noqa: PLC0415
        from relier.chaos.scenarios import run  # noqa: PLC0415

        pane = self.query_one(ChaosPane)

        def report(event: str, detail: dict[str, Any]) -> None:
            self.call_from_thread(pane.progress, event, detail)

        try:
            with tempfile.TemporaryDirectory(prefix="relier-console-chaos-") as logs:
                ctx = ChaosContext(self.relier, LocalCluster(self.relier, Path(logs)), report)
                verdict = run(scenario, ctx, options)
            numbers = ", ".join(f"{k}={v}" for k, v in verdict.numbers.items())
            text = (f"{scenario}: {'HELD' if verdict.held else 'VIOLATED'}  {numbers}"
                    + "".join(f"\nviolated: {f}" for f in verdict.failures))
            self.call_from_thread(pane.verdict, verdict.held, text)
        except ScenarioUnavailableError as exc:
            self.call_from_thread(pane.verdict, None, f"cannot run here: {exc}")
        except Exception as exc:  # noqa: BLE001 - a crashed run is reported, never swallowed silently
            self.call_from_thread(pane.verdict, False, f"{scenario} crashed: {type(exc).__name__}: {exc}")
        finally:
            self.chaos_running = False
