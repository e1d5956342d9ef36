"""Secret masking in the console is relier's own (`relier.display.mask_secrets`, with the
RELIER_CONSOLE_MASK words): the console keeps no copy of it, and its detail view masks
arguments, checkpoint, result, error and record values by key and by text."""

from __future__ import annotations

import importlib.util

from celery import Celery

from relier.binding import Relier
from relier.config import Settings
from relier.display import MASK
from relier.envelope import encode_value
from relier_tui.source import ConsoleSource
from relier_tui.task_view import TaskRead, task_view
from tests.tui.task_records import KEYS, NOW_MS, message_fields


def test_the_console_has_no_masking_of_its_own() -> None:
    assert importlib.util.find_spec("relier_tui.masking") is None


def test_the_console_masks_with_the_configured_words() -> None:
    settings = Settings.from_env({"RELIER_ENV": "test", "RELIER_CONSOLE_MASK": " Email , phone"})
    source = ConsoleSource(Relier(Celery("masking", set_as_current=False), settings=settings))
    assert source.mask == ("email", "phone")


def test_the_detail_view_masks_by_key_and_by_text_at_any_depth() -> None:
    record = {
        "name": b"auth.refresh_token", "state": b"completed",
        **message_fields("auth.refresh_token", "t1", ("cus_1", "sk_live_abc123", 5000),
                         {"payment": {"card_number": "4242", "amount": 5000},
                          "items": [{"token": "t"}, {"sku": "a"}]}),
        "partial": encode_value({"password": "p", "done": 3}), "result": encode_value("sk_test_zz"),
        "error": b"login failed for password=hunter2", "start_token": b"abc",
    }
    words = Settings.from_env({}).console_mask
    view = task_view(TaskRead("t1", record, [], NOW_MS), KEYS, words)
    assert view.args == ["cus_1", MASK, 5000]
    assert view.kwargs == {"payment": {"card_number": MASK, "amount": 5000},
                           "items": [{"token": MASK}, {"sku": "a"}]}
    assert view.checkpoint is not None
    assert view.checkpoint.value == {"password": MASK, "done": 3}
    assert view.result is not None
    assert view.result.value == MASK
    assert view.error == MASK
    assert view.other["start_token"] == MASK
    assert view.name == "auth.refresh_token"  # names the tables show anyway stay readable
