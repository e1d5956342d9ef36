"""Each pane's own keys (issue 19), driven with the pilot against a real (empty) Redis: every key a
pane declares, from its home widget, from the table that is not a home, and from inside a form
(ctrl+s while typing). The keys come from the panes' bindings, so a new pane key without a check
here fails. With nothing in Redis, the outcome shows that the action ran without changing
anything: a notice that nothing is selected, a sort, a confirmation asked and declined, a form's
validation message (tests/tui/test_console.py drives the same actions on real tasks)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from textual.pilot import Pilot
from textual.widgets import Footer, Input, Static

from relier.testing import RedisServer
from relier_tui.app import PANES, RelierConsole
from relier_tui.keys import declared
from relier_tui.screens import ConfirmScreen
from tests.tui.conftest import until
from tests.tui.keyboard import console, start, told

Check = Callable[[Pilot[None], RelierConsole], Awaitable[None]]

#: (pane, key) for every key a pane declares
PANE_KEYS = [(pane_id, binding.key) for pane_id, pane in PANES.items() for binding in declared(pane)]
#: where else a pane's keys are pressed: the table that is not a home, and inside each form
ELSEWHERE = {"admission": ["#slo-table", "#limit-name"], "chaos": ["#chaos-options"],
             "dispatch": ["#dispatch-task"]}
CASES = [(pane_id, "", key) for pane_id, key in PANE_KEYS] + [
    (pane_id, focus, key) for pane_id, key in PANE_KEYS for focus in ELSEWHERE.get(pane_id, [])]


def _text(app: RelierConsole, selector: str) -> str:
    return str(app.query_one(selector, Static).render())


def notice(text: str) -> Check:
    """The pane said `text` (a notification)."""
    async def check(pilot: Pilot[None], app: RelierConsole) -> None:
        await until(pilot, lambda: told(app, text), what=f"the notice {text!r}")

    return check


def asks(question: str) -> Check:
    """The pane asked `question` first; declining it leaves Redis as it was."""
    async def check(pilot: Pilot[None], app: RelierConsole) -> None:
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
        assert question in str(app.screen.query_one("#question", Static).render())
        await pilot.press("n")
        await until(pilot, lambda: not isinstance(app.screen, ConfirmScreen), what="the dialog to close")
        assert app.source.dead_letters_api.count() == 0

    return check


def says(selector: str, text: str) -> Check:
    """The form's status line says `text`."""
    async def check(pilot: Pilot[None], app: RelierConsole) -> None:
        await until(pilot, lambda: text in str(app.query_one(selector, Static).render()),
                    what=f"{selector} to say {text!r}")

    return check


def focuses(selector: str) -> Check:
    """The key put the focus on `selector` (a form's field: typing goes there now)."""
    async def check(pilot: Pilot[None], app: RelierConsole) -> None:
        await until(pilot, lambda: app.focused is app.query_one(selector), what=f"the focus on {selector}")
        assert "typing" in str(app.query_one("#mode").render())

    return check


CHECKS: dict[tuple[str, str], Check] = {
    ("inflight", "enter"): notice("select a task first"),
    ("inflight", "s"): notice("sorted by task"),
    ("inflight", "c"): notice("select a task first"),
    ("inflight", "C"): notice("select a task first"),
    ("workers", "s"): notice("sorted by worker / process"),
    ("dead-letters", "enter"): notice("select a dead letter first"),
    ("dead-letters", "s"): notice("sorted by task"),
    ("dead-letters", "r"): notice("select a dead letter first"),
    ("dead-letters", "a"): asks("Release 0 dead letters (no filter: ALL of them)"),
    ("dead-letters", "x"): asks("Delete 0 dead letters (no filter: ALL of them) for good?"),
    # the options are made invalid first: the key runs the form's validation, not a scenario
    ("chaos", "ctrl+s"): says("#chaos-verdict", "options: not JSON"),
    ("dispatch", "ctrl+s"): says("#dispatch-status", "task name is empty"),
    ("admission", "ctrl+s"): says("#limit-status", "name: give the queue"),
    ("admission", "e"): focuses("#limit-name"),
}


def test_every_pane_key_has_a_check() -> None:
    assert {(pane_id, key) for pane_id, key in PANE_KEYS} == set(CHECKS)


@pytest.mark.parametrize(("pane_id", "focus", "key"), CASES,
                         ids=[f"{p}{f}-{k}" for p, f, k in CASES])
async def test_pane_key_works(pane_id: str, focus: str, key: str, empty_server: RedisServer) -> None:
    app = console(empty_server)
    async with app.run_test(size=(120, 36)) as pilot:
        await start(pilot, app, pane_id, focus)
        if pane_id == "chaos":
            app.query_one("#chaos-options", Input).value = "not json"
        await pilot.press(key)
        await CHECKS[pane_id, key](pilot, app)
        assert app.active_pane == pane_id


async def test_the_footer_offers_the_admission_forms_key(empty_server: RedisServer) -> None:
    """The form is reached by a key the footer shows, not only by Tab or the mouse."""
    app = console(empty_server)
    async with app.run_test(size=(80, 24)) as pilot:
        await start(pilot, app, "admission")
        footer = [str(item.render()) for item in app.query_one(Footer).children]
        assert "e Edit limit" in footer
        assert "^s Apply limit" in footer
