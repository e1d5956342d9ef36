"""`rl tui`: the operations console. It reads relier's state from Redis and acts through relier's
operations API; keyspace notifications say what changed, a slow timer reconciles everything.
All Redis I/O runs in Textual thread workers; the UI thread only renders."""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Iterable
from typing import Any

import redis
from textual import work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import Footer, Input, Static, TabbedContent, TabPane
from textual.worker import get_current_worker

from relier.binding import Relier
from relier_tui.literal import literal
from relier_tui.live import ChangeFeed
from relier_tui.operations import ConsoleOperations
from relier_tui.screens import HelpScreen
from relier_tui.source import ConsoleSource, Health, Snapshot
from relier_tui.widgets.admission import AdmissionPane
from relier_tui.widgets.chaos import ChaosPane
from relier_tui.widgets.dead_letters import DeadLettersPane
from relier_tui.widgets.dispatch import DispatchPane
from relier_tui.widgets.events import EventsPane
from relier_tui.widgets.health import HealthBar, health_notes
from relier_tui.widgets.inflight import InflightPane
from relier_tui.widgets.keyed_table import KeyedTable
from relier_tui.widgets.workers import WorkersTable

PANES = ("inflight", "workers", "events", "dead-letters", "chaos", "dispatch", "admission")
SORTABLE = {"inflight": "#inflight-table", "workers": "#workers-table", "dead-letters": "#dlq-table"}
FILTERS = {"inflight": "#inflight-filter", "events": "#events-filter", "dead-letters": "#dlq-filter"}
PANE_ACTIONS: dict[str, set[str]] = {
    "release": {"dead-letters"}, "retry_all": {"dead-letters"}, "purge": {"dead-letters"},
    "pause": {"events"}, "sort": set(SORTABLE), "filter": set(FILTERS), "submit": {"chaos", "dispatch"},
}


class RelierConsole(ConsoleOperations):
    """The relier operations console."""

    CSS_PATH = "console.tcss"
    TITLE = "relier console"
    BINDINGS = [
        Binding("1", "show('inflight')", "Inflight", show=False),
        Binding("2", "show('workers')", "Workers", show=False),
        Binding("3", "show('events')", "Events", show=False),
        Binding("4", "show('dead-letters')", "DLQ", show=False),
        Binding("5", "show('chaos')", "Chaos", show=False),
        Binding("6", "show('dispatch')", "Dispatch", show=False),
        Binding("7", "show('admission')", "Admission", show=False),
        Binding("slash", "filter", "Filter"),
        Binding("escape", "leave_filter", "Back", show=False),
        Binding("s", "sort", "Sort"),
        Binding("space", "pause", "Pause"),
        Binding("r", "release", "Release"),
        Binding("a", "retry_all", "Retry all"),
        Binding("x", "purge", "Purge"),
        Binding("ctrl+s", "submit", "Run / Push"),
        Binding("ctrl+r", "reload", "Reload"),
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, relier: Relier, *, reconcile_interval: float = 5.0, poll_interval: float = 1.0,
                 apply_interval: float = 0.05, full_read_interval: float = 60.0) -> None:
        super().__init__()
        self.relier = relier
        self.source = ConsoleSource(relier)
        self.feed = ChangeFeed(relier.keys, db=_db_of(relier))
        self.reconcile_interval = reconcile_interval
        self.poll_interval = poll_interval
        self.apply_interval = apply_interval
        self.full_read_interval = full_read_interval
        self.connected: bool | None = None
        self.notifications: bool | None = None
        self.last_error = ""
        self.health: Health | None = None
        self.reload_now = threading.Event()
        self.stopping = threading.Event()
        self.chaos_running = False
        #: change in Redis -> console updated, for `python -m bench tui`: task id -> when a
        #: changed state of it was applied
        self.applied_at: dict[str, float] = {}
        self.record_applied = False

    # ----- layout
    def compose(self) -> ComposeResult:
        yield HealthBar(id="health")
        yield Static("", id="banner")
        ttl = self.relier.settings.lease_ttl
        with TabbedContent(initial="inflight", id="tabs"):
            with TabPane("1 Inflight", id="inflight"):
                yield InflightPane(ttl, id="inflight-pane")
            with TabPane("2 Workers", id="workers"):
                yield WorkersTable(ttl, id="workers-table")
            with TabPane("3 Events", id="events"):
                yield EventsPane(id="events-pane")
            with TabPane("4 Dead letters", id="dead-letters"):
                yield DeadLettersPane(id="dlq-pane")
            with TabPane("5 Chaos", id="chaos"):
                yield ChaosPane(id="chaos-pane")
            with TabPane("6 Dispatch", id="dispatch"):
                yield DispatchPane(self.source.task_names(), id="dispatch-pane")
            with TabPane("7 Admission & SLO", id="admission"):
                yield AdmissionPane(id="admission-pane")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#banner", Static).display = False
        self.listen_for_changes()
        self.reconcile()
        self.follow_changes()
        self.tail_events()
        self.query_one("#inflight-table", KeyedTable).focus()

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """Every binding of the console in the command palette (ctrl+p), with its key."""
        yield from super().get_system_commands(screen)
        for binding in self.BINDINGS:
            assert isinstance(binding, Binding)
            if binding.action in {"quit", "leave_filter"}:
                continue
            action = binding.action
            if self.check_action(action.split("(", 1)[0], ()) is False:
                continue
            key = binding.key.replace("question_mark", "?").replace("slash", "/")
            title = binding.description if not action.startswith("show(") else f"Show {binding.description}"
            yield SystemCommand(title, f"key: {key}",
                                functools.partial(self.call_later, self.run_action, action))

    def on_unmount(self) -> None:
        self.stopping.set()
        self.reload_now.set()
        self.feed.changed.set()

    # ----- background I/O (thread workers)
    @work(thread=True, group="feed", exit_on_error=False)
    def listen_for_changes(self) -> None:
        worker = get_current_worker()
        while not worker.is_cancelled and not self.stopping.is_set():
            try:
                self.feed.listen(self.relier.store.client, self.stopping)
            except (redis.RedisError, OSError):
                self.reload_now.set()  # hints were lost while disconnected: reconcile
                self.stopping.wait(1.0)

    @work(thread=True, group="reconcile", exit_on_error=False)
    def reconcile(self) -> None:
        """Reconcile with Redis every `reconcile_interval` (the poll interval when
        notifications are off): health (Redis memory and misspelt settings included), workers,
        dead letters, limits, SLO, and which tasks are inflight. Every inflight record is re-read
        at start, after a reconnect or ctrl+r, every `full_read_interval`, and on every pass while
        notifications are off; in between, the event stream keeps records current."""
        worker = get_current_worker()
        next_full = 0.0
        while not worker.is_cancelled and not self.stopping.is_set():
            full = self.reload_now.is_set() or time.monotonic() >= next_full or not self.notifications
            self.reload_now.clear()
            try:
                started = time.monotonic()
                known = None if full else set(self.query_one(InflightPane).tasks)
                snapshot = self.source.snapshot(self.query_one(DeadLettersPane).server_filter,
                                                known=known)
                self.call_from_thread(self._apply_snapshot, snapshot, started)
                if full:
                    next_full = started + self.full_read_interval
                if self.connected is not True:
                    self.call_from_thread(self._set_connected, True, "")
            except (redis.RedisError, OSError) as exc:
                self.call_from_thread(self._set_connected, False, str(exc))
                next_full = 0.0  # what changed while Redis was away is read in full
                self.stopping.wait(1.0)
                continue
            self.reload_now.wait(self.reconcile_interval if self.notifications else self.poll_interval)

    @work(thread=True, group="changes", exit_on_error=False)
    def follow_changes(self) -> None:
        """Read just what the hints name, every `apply_interval` at most, in its own thread so
        a slow full reconcile never holds back a row update."""
        worker = get_current_worker()
        while not worker.is_cancelled and not self.stopping.is_set():
            self.feed.changed.wait(self.poll_interval)
            changes = self.feed.drain()
            if not changes.any or self.connected is False:
                continue
            try:
                self.call_from_thread(self._apply_changes, self._read_changes(changes))
            except (redis.RedisError, OSError):
                self.reload_now.set()  # the reconcile loop reports the outage and recovers
            self.stopping.wait(self.apply_interval)

    @work(thread=True, group="events", exit_on_error=False)
    def tail_events(self) -> None:
        worker = get_current_worker()
        last: str | None = None
        while not worker.is_cancelled and not self.stopping.is_set():
            try:
                if last is None:
                    last, events = self.source.recent_events(200)
                else:
                    last, events = self.source.events_after(last, count=500, block_ms=500)
                if events:
                    self.feed.note_tasks([event["id"] for event in events if event.get("id")])
                    self.call_from_thread(self.query_one(EventsPane).add, events)
            except (redis.RedisError, OSError):
                self.stopping.wait(1.0)

    def _read_changes(self, changes: Any) -> dict[str, Any]:
        read: dict[str, Any] = {}
        if changes.task_ids:
            read["rows"] = self.source.inflight_by_id(sorted(changes.task_ids))
        if changes.workers:
            read["workers"] = self.source.workers()
        if changes.dead_letters:
            read["dead_letters"] = self.source.dead_letter_list(self.query_one(DeadLettersPane).server_filter)
            read["dead_letter_total"] = self.source.dead_letters_api.count()
        if changes.limits:
            read["limits"] = self.source.limits()
        return read

    # ----- applying reads (UI thread)
    def _apply_snapshot(self, snapshot: Snapshot, read_started: float) -> None:
        health = snapshot.health
        self.health = health
        self.notifications = health.notifications
        self.query_one(HealthBar).show(health, self.connected is not False)
        inflight = self.query_one(InflightPane)
        if snapshot.complete:
            inflight.replace(snapshot.inflight, read_started=read_started)
        else:
            inflight.update_rows({**{task.id: task for task in snapshot.inflight},
                                  **dict.fromkeys(snapshot.departed)})
        self.query_one(WorkersTable).show(snapshot.workers)
        self.query_one(DeadLettersPane).show(snapshot.dead_letters, health.dead_letters)
        self.query_one(AdmissionPane).show(snapshot.limits, snapshot.rejections, snapshot.slo)
        self._mark_applied(self.query_one(InflightPane).changed)

    def _apply_changes(self, read: dict[str, Any]) -> None:
        if "rows" in read:
            self.query_one(InflightPane).update_rows(read["rows"])
            self._mark_applied(self.query_one(InflightPane).changed)
        if "workers" in read:
            self.query_one(WorkersTable).show(read["workers"])
        if "dead_letters" in read:
            self.query_one(DeadLettersPane).show(read["dead_letters"], read["dead_letter_total"])
        if "limits" in read:
            self.query_one(AdmissionPane).show(read["limits"])

    def _mark_applied(self, ids: Any) -> None:
        if self.record_applied:
            stamp = time.monotonic()
            for task_id in ids:
                self.applied_at[task_id] = stamp

    def _set_connected(self, connected: bool, error: str) -> None:
        self.connected = connected
        self.last_error = error
        banner = self.query_one("#banner", Static)
        banner.display = not connected
        if not connected:
            reason = error.rstrip(".")
            banner.update(literal(f"Redis unreachable at {self.source.redis_url}: {reason}. "
                                  "Retrying every second; the console recovers by itself when "
                                  "Redis is back."))
        self.query_one(HealthBar).show(self.health, connected)

    # ----- actions
    def action_show(self, pane: str) -> None:
        self.query_one(TabbedContent).active = pane
        focus = {"inflight": "#inflight-table", "workers": "#workers-table", "events": "#events-log",
                 "dead-letters": "#dlq-table", "chaos": "#chaos-scenario", "dispatch": "#dispatch-task",
                 "admission": "#limits-table"}[pane]
        self.query_one(focus).focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Pane-specific actions are shown (and run) only on their pane."""
        try:
            pane = self.active_pane
        except NoMatches:  # not composed yet
            return True
        panes = PANE_ACTIONS.get(action)
        return panes is None or pane in panes

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self.query_one(EventsPane).show(self.active_pane == "events")
        self.refresh_bindings()

    def action_filter(self) -> None:
        self.query_one(FILTERS[self.active_pane], Input).focus()

    def action_leave_filter(self) -> None:
        pane = self.active_pane
        if pane in SORTABLE:
            self.query_one(SORTABLE[pane]).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id in {"inflight-filter", "dlq-filter"}:
            self.reload_now.set()
            self.action_leave_filter()
        elif event.input.id and event.input.id.startswith("dispatch-"):
            self.action_submit()
        elif event.input.id and event.input.id.startswith("limit-"):
            self._confirm_limit()

    def action_sort(self) -> None:
        label = self.query_one(SORTABLE[self.active_pane], KeyedTable).cycle_sort()
        self.tell(f"sorted by {label}", timeout=2)

    def action_pause(self) -> None:
        paused = self.query_one(EventsPane).toggle_pause()
        self.tell("event tail paused" if paused else "event tail live", timeout=2)

    def action_reload(self) -> None:
        self.reload_now.set()
        self.feed.changed.set()

    def action_help(self) -> None:
        self.push_screen(HelpScreen(health_notes(self.health)))


def _db_of(relier: Relier) -> int:
    kwargs = relier.store.client.connection_pool.connection_kwargs
    return int(kwargs.get("db", 0) or 0)
