"""`rl tui`: the operations console. It reads relier's state from Redis and acts through relier's
operations API; keyspace notifications say what changed, a slow timer reconciles everything.
All Redis I/O runs in Textual thread workers; the UI thread only renders.

The app holds the layout, the live reads and the app-wide keys (panes 1-7, `/`, `space`,
ctrl+r, ctrl+p, `?`, `q`, and Esc back to the pane shown); every pane owns its own keys and the
actions behind them."""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Iterable
from typing import Any

import redis
from textual import work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import Footer, Static, TabbedContent, TabPane
from textual.worker import Worker, get_current_worker

from relier.binding import Relier
from relier.display import safe_text
from relier.inspection import WorkerView
from relier_tui.cells import CellRead, CellReader, CellsRead, cells_line, merged
from relier_tui.failures import NOTICE_SECONDS, logger, report_failure
from relier_tui.keys import help_sections, key_label
from relier_tui.leases import LeaseBook, LeaseLimits
from relier_tui.literal import literal
from relier_tui.live import ChangeFeed
from relier_tui.screens import HelpScreen
from relier_tui.source import ConsoleSource, Health, Snapshot
from relier_tui.widgets.admission import AdmissionPane
from relier_tui.widgets.chaos import ChaosPane
from relier_tui.widgets.dead_letters import DeadLettersPane
from relier_tui.widgets.dispatch import DispatchPane
from relier_tui.widgets.events import EventsPane
from relier_tui.widgets.health import HealthBar, health_notes
from relier_tui.widgets.inflight import InflightPane
from relier_tui.widgets.mode_line import ModeLine
from relier_tui.widgets.pane import FilteredPane, Pane
from relier_tui.widgets.workers import WorkersPane

#: the panes, by tab id, in the order of their keys 1-7
PANES: dict[str, type[Pane]] = {
    "inflight": InflightPane, "workers": WorkersPane, "events": EventsPane,
    "dead-letters": DeadLettersPane, "chaos": ChaosPane, "dispatch": DispatchPane,
    "admission": AdmissionPane,
}


class RelierConsole(App[None]):
    """The relier operations console."""

    CSS_PATH = "console.tcss"
    TITLE = "relier console"
    BINDINGS = [
        *(Binding(str(number), f"show('{pane_id}')", pane.TITLE, show=False,
                  tooltip=f"Show the {pane.TITLE} pane")
          for number, (pane_id, pane) in enumerate(PANES.items(), 1)),
        Binding("slash", "filter", "Filter", show=False,
                tooltip="Focus the pane's filter box (a pane without one says so)"),
        Binding("space", "pause", "Pause events", show=False,
                tooltip="Pause or resume the event tail (the mode line says LIVE or PAUSED)"),
        Binding("ctrl+r", "reload", "Reload", tooltip="Re-read everything from Redis now"),
        Binding("ctrl+p", "command_palette", "Commands", show=False, priority=True,
                tooltip="The command palette: every action of the pane shown, searchable"),
        Binding("question_mark", "help", "Help", show=False,
                tooltip="Every key, and what needs attention now"),
        Binding("q", "quit", "Quit", tooltip="Leave the console"),
        Binding("escape", "home", "Back",
                tooltip="Leave the field, form or tab bar: back to the pane's table (or the pane); "
                        "the digits, q, ? and / work again"),
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
        #: change in Redis -> console updated, for `python -m bench tui`: task id -> when a
        #: changed state of it was applied
        self.applied_at: dict[str, float] = {}
        self.record_applied = False
        #: every process's lease age as last read (on every renewal, with notifications on):
        #: what the Workers and Inflight panes and the detail view show
        self.leases = LeaseBook()
        #: with RELIER_CELLS: every cell's workers, inflight tasks and dead letters are read by
        #: `read_cell` (the header, events and admission stay the console's own cell's)
        self.cell_reader = CellReader(relier) if relier.cells.is_sharded else None
        #: set to re-read a cell now (ctrl+r, an action); each cell's last read
        self.cells_now = {cell: threading.Event() for cell in relier.cells.names}
        self.cell_reads: dict[str, CellRead] = {}
        self.cells_read: CellsRead | None = None

    # ----- layout
    def compose(self) -> ComposeResult:
        """Header, banner, the seven panes in tabs, the mode line and the footer."""
        yield HealthBar(id="health")
        yield Static("", id="banner")
        settings = self.relier.settings
        leases = LeaseLimits(settings.lease_ttl, settings.lease_refresh_interval)
        panes: dict[str, Pane] = {
            "inflight": InflightPane(leases, self.leases, self.source, id="inflight-pane",
                                     cell_source=None if self.cell_reader is None
                                     else self.cell_reader.source),
            "workers": WorkersPane(leases, self.leases, id="workers-pane",
                                   has_cells=self.cell_reader is not None),
            "events": EventsPane(id="events-pane"),
            "dead-letters": DeadLettersPane(self.source, id="dlq-pane",
                                            cells=self.relier.cells.names,
                                            cell_source=None if self.cell_reader is None
                                            else self.cell_reader.source),
            "chaos": ChaosPane(self.relier, id="chaos-pane"),
            "dispatch": DispatchPane(self.source, id="dispatch-pane"),
            "admission": AdmissionPane(self.source, id="admission-pane"),
        }
        with TabbedContent(initial="inflight", id="tabs"):
            for number, (pane_id, pane) in enumerate(panes.items(), 1):
                with TabPane(f"{number} {pane.TAB or pane.TITLE}", id=pane_id):
                    yield pane
        yield ModeLine(panes=len(panes), id="mode")
        yield Footer(compact=True, show_command_palette=False)  # the mode line names ^p

    def on_mount(self) -> None:
        """Start the live reads; the inflight table has the focus."""
        self.query_one("#banner", Static).display = False
        self.listen_for_changes()
        self.reconcile()
        self.follow_changes()
        self.tail_events()
        for cell in self.cells_now:  # threads of their own: not the thread workers' pool
            threading.Thread(target=self.read_cell, args=(cell,), name=f"rl tui cell {cell}",
                             daemon=True).start()
        self.pane("inflight").focus_home()

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """The command palette (ctrl+p): Textual's commands, then every console key active on
        the pane shown, with its key."""
        yield from super().get_system_commands(screen)
        titles: set[str] = set()
        for key, active in screen.active_bindings.items():
            binding = active.binding
            if (not active.enabled or not binding.description or binding.system
                    or binding.action in {"quit", "command_palette"}
                    or not (binding.show or active.node is self)):
                continue
            title = (f"Show {binding.description}" if binding.action.startswith("show(")
                     else binding.description)
            if title in titles:
                continue
            titles.add(title)
            yield SystemCommand(title, f"{binding.tooltip} (key: {key_label(key)})",
                                functools.partial(self.call_later, self.run_action, binding.action,
                                                  active.node))

    def on_unmount(self) -> None:
        """Stop the background loops."""
        self.stopping.set()
        self.reload_now.set()
        self._read_cells_now()
        self.feed.changed.set()

    # ----- background I/O (thread workers)
    @work(thread=True, group="feed", exit_on_error=False)
    def listen_for_changes(self) -> None:
        """Collect keyspace-notification hints, resubscribing after a lost connection."""
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

    def read_cell(self, cell: str) -> None:
        """With RELIER_CELLS, one thread per cell: read the cell's workers, inflight tasks and
        dead letters every `poll_interval` (at once after ctrl+r or an action). A cell that does not answer
        loses its rows and reads ``unreachable`` in the header; a cell slow to answer holds
        back only its own thread. (Plain threads: Textual's thread workers share a small pool
        that the actions need.) An error other than Redis's ends the loop, reported."""
        assert self.cell_reader is not None
        now = self.cells_now[cell]
        try:
            while not self.stopping.is_set():
                now.clear()
                read = self.cell_reader.read(cell, self.query_one(DeadLettersPane).server_filter)
                if self.stopping.is_set():
                    return
                self.call_from_thread(self._apply_cell, read)
                now.wait(self.poll_interval)
        except Exception as exc:  # noqa: BLE001 - reported to the operator, as a worker's would be
            if not self.stopping.is_set():
                logger.error("console: cell %s reads failed", cell, exc_info=exc)
                self.call_from_thread(self.notify, safe_text(f"cell {cell} reads failed: {exc}"),
                                      title="Action failed", severity="error", markup=False,
                                      timeout=NOTICE_SECONDS)

    def _read_cells_now(self) -> None:
        for event in self.cells_now.values():
            event.set()

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
        """Tail the lifecycle event stream into the Events pane (and the feed's task hints)."""
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

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A background loop that ended on an error other than Redis's is reported (the panes
        report their own actions' failures the same way)."""
        report_failure(self, event.worker, event.state)

    def _read_changes(self, changes: Any) -> dict[str, Any]:
        read: dict[str, Any] = {}
        if changes.task_ids and self.cell_reader is None:
            read["rows"] = self.source.inflight_by_id(sorted(changes.task_ids))
        if changes.workers and self.cell_reader is None:
            read["workers"] = self.source.workers()
        if changes.dead_letters and self.cell_reader is None:
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
        mode = self.query_one(ModeLine)
        mode.memory, mode.memory_warning = health.memory, health.memory_warning
        if self.cell_reader is None:  # with cells, each cell's thread reads these panes
            inflight = self.query_one(InflightPane)
            if snapshot.complete:
                inflight.replace(snapshot.inflight, read_started=read_started)
            else:
                inflight.update_rows({**{task.id: task for task in snapshot.inflight},
                                      **dict.fromkeys(snapshot.departed)})
            self._show_workers(snapshot.workers)
            self.query_one(DeadLettersPane).show(snapshot.dead_letters, health.dead_letters)
        self.query_one(AdmissionPane).show(snapshot.limits, snapshot.rejections, snapshot.slo)
        self._mark_applied(self.query_one(InflightPane).changed)

    def _apply_changes(self, read: dict[str, Any]) -> None:
        if "rows" in read:
            self.query_one(InflightPane).update_rows(read["rows"])
            self._mark_applied(self.query_one(InflightPane).changed)
        if "workers" in read:
            self._show_workers(read["workers"])
        if "dead_letters" in read:
            self.query_one(DeadLettersPane).show(read["dead_letters"], read["dead_letter_total"])
        if "limits" in read:
            self.query_one(AdmissionPane).show(read["limits"])

    def _apply_cell(self, cell_read: CellRead) -> None:
        """A read of one cell, merged with the others' last: the cells' line in the header,
        every cell's workers (their leases recorded in the shared `LeaseBook`), inflight tasks
        and dead letters, each with its cell."""
        assert self.cell_reader is not None
        self.cell_reads[cell_read.health.name] = cell_read
        read = self.cells_read = merged(self.cell_reads, self.cell_reader.names)
        self.query_one(HealthBar).show_cells(
            cells_line(read.health, self.relier.settings.memory_warning, self.relier.runtime.cell))
        self.leases.record_workers(worker for _, worker in read.workers)
        self.query_one(WorkersPane).show([worker for _, worker in read.workers],
                                         [cell for cell, _ in read.workers])
        inflight = self.query_one(InflightPane)
        inflight.replace_in_cells(read.inflight)
        inflight.refresh_ages()
        self.query_one(DeadLettersPane).show_in_cells(read.dead_letters, read.dead_letter_total)

    def _show_workers(self, workers: list[WorkerView]) -> None:
        """A read of the workers and their leases: recorded in the shared `LeaseBook`, shown in
        the Workers pane, and the Inflight rows' lease ages follow at once."""
        self.leases.record_workers(workers)
        self.query_one(WorkersPane).show(workers)
        self.query_one(InflightPane).refresh_ages()

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
        self.query_one(ModeLine).connected = connected

    # ----- panes and app-wide keys
    @property
    def active_pane(self) -> str:
        """The id of the pane shown."""
        return str(self.query_one(TabbedContent).active)

    def pane(self, pane_id: str) -> Pane:
        """The pane with that tab id."""
        return self.query_one(f"#{pane_id} > Pane", Pane)

    def action_show(self, pane_id: str) -> None:
        """Show a pane; its home widget (a table, a menu or the pane) gets the focus."""
        self.query_one(TabbedContent).active = pane_id
        self.pane(pane_id).focus_home()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Esc means "back to the pane" on the console's own screen, away from the shown pane's
        home widget; on its home (and in dialogs, which close on Esc) it is left to others."""
        if action != "home":
            return True
        if len(self.screen_stack) > 1:
            return False
        try:
            return self.screen.focused is not self.pane(self.active_pane).home
        except NoMatches:  # still composing: no pane to go back to
            return False

    def action_home(self) -> None:
        """Leave the field, form or tab bar: the focus returns to the shown pane's home widget."""
        self.pane(self.active_pane).focus_home()

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        """Another pane is shown (by key or by mouse): focus it, and update the mode line."""
        pane = self.pane(self.active_pane)
        self.query_one(EventsPane).show(isinstance(pane, EventsPane))
        focused = self.screen.focused
        if focused is None or pane not in focused.ancestors_with_self:
            pane.focus_home()
        self.query_one(ModeLine).filter_text = pane.filter_text
        self.refresh_bindings()

    def on_pane_filter_changed(self, event: Pane.FilterChanged) -> None:
        """The mode line shows the filter of the pane shown."""
        try:
            shown = self.pane(self.active_pane)
        except NoMatches:
            return
        if event.pane is shown:
            self.query_one(ModeLine).filter_text = event.text

    def on_events_pane_tail_changed(self, event: EventsPane.TailChanged) -> None:
        """The mode line says LIVE or PAUSED, with the events missed meanwhile."""
        mode = self.query_one(ModeLine)
        mode.paused = event.paused
        mode.missed = event.missed

    def on_pane_reload_requested(self, event: Pane.ReloadRequested) -> None:
        """A pane changed Redis or what it reads: re-read it now."""
        self._read_cells_now()  # with cells, every pane but admission is read per cell
        if event.what == "dead_letters":
            self.feed.mark(dead_letters=True)
        elif event.what == "limits":
            self.feed.mark(limits=True)
        else:
            self.reload_now.set()

    def action_filter(self) -> None:
        """Focus the filter of the pane shown (panes without one say so)."""
        pane = self.pane(self.active_pane)
        if isinstance(pane, FilteredPane):
            pane.action_filter()
            return
        have = ", ".join(p.TITLE for p in PANES.values() if issubclass(p, FilteredPane))
        self.notify(f"Nothing to filter on the {pane.TITLE} pane ({have} have a filter).",
                    severity="warning", timeout=4)

    def action_pause(self) -> None:
        """Pause or resume the event tail, from any pane."""
        paused = self.query_one(EventsPane).toggle_pause()
        self.notify("event tail paused" if paused else "event tail live", timeout=2)

    def action_reload(self) -> None:
        """Re-read everything from Redis now."""
        self.reload_now.set()
        self._read_cells_now()
        self.feed.changed.set()

    def action_help(self) -> None:
        """Every key (from the bindings themselves), then what needs attention now."""
        self.push_screen(HelpScreen(help_sections(type(self), list(PANES.values())),
                                    health_notes(self.health)))


def _db_of(relier: Relier) -> int:
    kwargs = relier.store.client.connection_pool.connection_kwargs
    return int(kwargs.get("db", 0) or 0)
