"""A background action that fails with an error it does not catch (anything but Redis's) is
reported app-wide: a notification naming the action and the error, and a log line with its
traceback (issue 19). Driven with the pilot against a real (empty) Redis; the action is made to
fail by its operation raising, the way a broken serializer or a bug in relier would."""

from __future__ import annotations

import logging

import pytest
from textual.widgets import Input

from relier.testing import RedisServer
from relier_tui.screens import ConfirmScreen
from tests.tui.conftest import until
from tests.tui.keyboard import console, start, told


class BrokenError(Exception):
    """An error no action expects."""


async def test_a_failed_limit_change_is_reported_not_dropped(
        empty_server: RedisServer, caplog: pytest.LogCaptureFixture) -> None:
    app = console(empty_server)

    def set_limit(*args: object, **kwargs: object) -> None:
        raise BrokenError("the admission script answered nonsense")

    app.source.set_limit = set_limit  # type: ignore[method-assign,assignment]
    with caplog.at_level(logging.ERROR, logger="relier_tui"):
        async with app.run_test(size=(120, 36)) as pilot:
            await start(pilot, app, "admission", "#limit-name")
            app.query_one("#limit-name", Input).value = "default"
            app.query_one("#limit-rate", Input).value = "5"
            await pilot.press("ctrl+s")
            await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
            await pilot.press("y")
            notice = "apply limit failed: BrokenError: the admission script answered nonsense"
            await until(pilot, lambda: told(app, notice), what="the failure notice")
            assert any(n.severity == "error" for n in app._notifications if notice in n.message)
    logged = [record for record in caplog.records if record.name == "relier_tui"]
    assert [record.getMessage() for record in logged] == [f"console: {notice}"]
    assert logged[0].exc_info is not None
    assert isinstance(logged[0].exc_info[1], BrokenError)


async def test_a_failed_read_of_a_task_is_reported(empty_server: RedisServer) -> None:
    """Opening a task whose read fails with a non-Redis error says so, rather than nothing."""
    app = console(empty_server)

    def task_view(task_id: str) -> None:
        raise BrokenError(f"cannot decode {task_id}")

    app.source.task_view = task_view  # type: ignore[method-assign,assignment]
    async with app.run_test(size=(120, 36)) as pilot:
        await start(pilot, app, "inflight")
        app.pane("inflight").open_task("t-1")  # type: ignore[attr-defined]
        await until(pilot, lambda: told(app, "open task failed: BrokenError: cannot decode t-1"),
                    what="the failure notice")
