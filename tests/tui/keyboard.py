"""What the keyboard tests share: a console on a real, empty Redis, where each case starts (a
pane's home widget, or another widget that can have the focus), and what the console says."""

from __future__ import annotations

import os
from collections.abc import Sequence

from celery import Celery
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import TabbedContent, Tabs

from relier.binding import Relier
from relier.testing import RedisServer
from relier_tui.app import PANES, RelierConsole
from relier_tui.widgets.mode_line import ModeLine
from tests.support import settings_for
from tests.tui.conftest import until

PANE_IDS = list(PANES)
PANE_KEY = {pane_id: str(number) for number, pane_id in enumerate(PANE_IDS, 1)}
#: the tab bar: not inside a pane, focused with shift+tab or a click
TAB_BAR = "tab-bar"
#: every Input of the console, by pane
INPUTS = [("inflight", "#inflight-filter"), ("workers", "#workers-filter"), ("events", "#events-filter"),
          ("dead-letters", "#dlq-filter"), ("chaos", "#chaos-options"), ("dispatch", "#dispatch-task"),
          ("dispatch", "#dispatch-args"), ("dispatch", "#dispatch-kwargs"), ("dispatch", "#dispatch-queue"),
          ("admission", "#admission-filter"), ("admission", "#limit-name"), ("admission", "#limit-rate"),
          ("admission", "#limit-burst"), ("admission", "#limit-depth")]
#: every other widget that can have the focus and is not a pane's home: a table that is not the
#: pane's home, the menus, the buttons, the chaos log, and the tab bar
OTHERS = [("admission", "#slo-table"), ("chaos", "#chaos-scenario"), ("chaos", "#chaos-run"),
          ("chaos", "#chaos-log"), ("dispatch", "#dispatch-push"), ("admission", "#limit-scope"),
          ("admission", "#limit-apply"), ("inflight", TAB_BAR)]


def console(server: RedisServer) -> RelierConsole:
    """A console on `server` that reconciles once at start (then every 30 s)."""
    own = Relier(Celery("keys", set_as_current=False), settings=settings_for(server.url))
    app = RelierConsole(own, reconcile_interval=30.0)
    app.animation_level = "none"  # the tab underline's slide and scrolling: nothing to wait for
    return app


def widget_at(app: RelierConsole, focus: str) -> Widget:
    """The widget a case starts on: `focus` is a selector, or `TAB_BAR`."""
    if focus == TAB_BAR:
        return app.query_one(TabbedContent).query_one(Tabs)
    return app.query_one(focus)


async def start(pilot: Pilot[None], app: RelierConsole, pane_id: str, focus: str = "") -> Widget:
    """Show the pane by its key, after the first read; then focus `focus` (its home by default).
    Returns the widget with the focus."""
    await until(pilot, lambda: app.health is not None, what="the first read")
    await pilot.press(PANE_KEY[pane_id])
    if focus:
        widget_at(app, focus).focus()
    await pilot.pause()
    assert app.active_pane == pane_id
    focused = app.focused
    assert focused is not None
    assert focused is (widget_at(app, focus) if focus else app.pane(pane_id).home)
    return focused


def mode(app: RelierConsole) -> str:
    """The mode line as shown."""
    return str(app.query_one(ModeLine).render())


def told(app: RelierConsole, text: str) -> bool:
    """Whether a notification shown now says `text`."""
    return any(text in notification.message for notification in app._notifications)


def key_matrix(places: Sequence[tuple[str, str]], keys: Sequence[str]) -> list[tuple[str, str, str]]:
    """Every key in every place with FULL_KEY_MATRIX=1 (``nox -s console``); otherwise the
    default suite's slice: each key in one place, every place with at least one key."""
    if os.environ.get("FULL_KEY_MATRIX"):
        return [(*place, key) for place in places for key in keys]
    count = max(len(places), len(keys))
    return [(*places[index % len(places)], keys[index % len(keys)]) for index in range(count)]
