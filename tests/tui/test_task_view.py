"""The task detail view's content, pure: local times with their ages, the lease holder and its
age coloured as in the Inflight pane, decoded and masked arguments, the checkpoint, attempts as
a table; a record of garbage reads `undecodable (N bytes)` and never raises or lets an escape
sequence through."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from relier.display import MASK, REPLACEMENT
from relier_tui.leases import LeaseLimits
from relier_tui.screens import Section
from relier_tui.task_sections import lease_text, task_sections
from relier_tui.task_view import Attempt, TaskRead, Undecodable, attempts_of, task_view
from tests.tui.task_records import (
    GARBAGE_HISTORY,
    GARBAGE_RECORD,
    KEYS,
    NOW_MS,
    history_entries,
    message_fields,
    running_record,
)

LIMITS = LeaseLimits(ttl=30.0, refresh=10.0)
WORDS = ("password", "token")


def _rendered(sections: list[Section], width: int = 100) -> str:
    """The sections as a terminal of `width` columns shows them (no colour codes)."""
    out = io.StringIO()
    console = Console(file=out, width=width, color_system=None, legacy_windows=False)
    for name, body in sections:
        console.print(f"== {name}", markup=False)
        console.print(body)
    return out.getvalue()


def _read(record: dict[str, bytes], history: list[bytes], renewed_ago: float | None = 1.2) -> TaskRead:
    renewed = None if renewed_ago is None else NOW_MS - renewed_ago * 1000
    return TaskRead("3f2c9a1e-0000-4000-8000-000000000001", record, history, NOW_MS, renewed)


@pytest.mark.usefixtures("utc")
def test_a_running_task_reads_as_times_ages_lease_arguments_checkpoint_and_attempts() -> None:
    view = task_view(_read(running_record(), history_entries()), KEYS, WORDS)
    text = _rendered(task_sections(view, LIMITS))
    assert "task  billing.charge" in text
    assert "state  running" in text
    assert "attempt  2, fence 5" in text
    assert "lease  held by demo1@vm/1234 (worker demo1@vm): renewed 1.2s ago, alive" in text
    assert "created  14:02:46 (30.0s ago)" in text
    assert "started  14:03:11 (4.2s ago)" in text
    assert "runtime  4.2s so far" in text
    assert "signature  verified (key k1)" in text
    assert "[0] 'o-1'" in text
    assert "[1] 4200" in text
    assert "currency = 'EUR'" in text
    assert f"password = {MASK}" in text
    assert "hunter2" not in text
    assert "value  {'rows_done': 120}" in text
    assert "saved  14:03:15 (1.0s ago)" in text
    lines = text.splitlines()
    header = next(line for line in lines if "worker / process" in line)
    assert header.split() == ["att", "fence", "worker", "/", "process", "started", "ended", "ran",
                              "outcome"]
    first = next(line for line in lines if "demo2@vm/99" in line).split()
    assert first == ["1", "3", "demo2@vm/99", "14:02:56", "14:03:01", "5.0s", "lost", "(worker_lost)"]
    current = next(line for line in lines if "demo1@vm/1234" in line and "held" not in line).split()
    assert current == ["2", "5", "demo1@vm/1234", "14:03:11", "-", "4.2s", "running"]
    assert "epoch" not in text
    assert str(NOW_MS - 4_200) not in text  # no raw milliseconds anywhere


@pytest.mark.parametrize(("renewed_ago", "words", "style"), [
    (1.2, "renewed 1.2s ago, alive", "green"),
    (25.0, "renewed 25.0s ago, late (renewed every 10.0s)", "yellow"),
    (45.0, "renewed 45.0s ago, expired (past the 30.0s TTL: its tasks are taken)", "bold red"),
    (None, "no lease (its process is gone; the resurrector takes the task)", "bold red"),
])
def test_the_lease_age_is_coloured_as_in_the_inflight_pane_and_said_in_words(
        renewed_ago: float | None, words: str, style: str) -> None:
    view = task_view(_read(running_record(), [], renewed_ago), KEYS, WORDS)
    lease = lease_text(view, LIMITS)
    assert lease.plain.endswith(words)
    assert lease.plain.startswith("held by demo1@vm/1234 (worker demo1@vm): ")
    assert [str(span.style) for span in lease.spans] == [style]
    if renewed_ago is not None:
        assert LIMITS.style(renewed_ago) == style


def test_an_unverified_message_still_shows_what_it_claims_in_red() -> None:
    record = {**running_record(), **message_fields("billing.charge", "x", ("o-1",), secret=b"w" * 32)}
    text = _rendered(task_sections(task_view(_read(record, []), KEYS, WORDS), LIMITS))
    assert "signature  bad signature (key k1)" in text
    assert "NOT verified" in text
    assert "[0] 'o-1'" in text


def test_a_garbage_record_reads_undecodable_with_sizes_and_nothing_raw() -> None:
    view = task_view(_read(GARBAGE_RECORD, GARBAGE_HISTORY), KEYS, WORDS)
    assert view.attempt == Undecodable(3)
    assert view.fence == Undecodable(2)
    assert view.checkpoint is not None
    assert view.checkpoint.value == Undecodable(3)
    assert view.result is not None
    assert view.result.value == Undecodable(1)
    text = _rendered(task_sections(view, LIMITS), width=80)
    assert "attempt  undecodable (3 bytes), fence undecodable (2 bytes)" in text
    assert "started  undecodable (9 bytes)" in text
    assert "created  99999999999999999999999 (not a time)" in text
    stored = len(GARBAGE_RECORD["packed"]) + len(GARBAGE_RECORD["raw"])
    assert f"message  undecodable ({stored} bytes)" in text
    assert "value  undecodable (3 bytes)" in text
    assert "value  undecodable (1 bytes)" in text
    assert "history entry 1: undecodable (11 bytes)" in text
    assert "history entry 2: undecodable (9 bytes)" in text
    assert "history entry 3: attempt undecodable (5 bytes)" in text
    assert f"evil{REPLACEMENT}]0;pwned{REPLACEMENT}" in text
    assert f"{REPLACEMENT}31m value" in text
    assert "\x1b" not in text
    assert "\x07" not in text
    assert "\x9b" not in text


def test_history_entries_pair_into_attempts() -> None:
    entries = [
        {"event": "started", "attempt": 1, "fence": 1, "worker": "w@h/1", "ts": 1_000},
        {"event": "failed", "attempt": 1, "fence": 1, "ts": 3_500, "runtime_ms": 2_400,
         "exc_type": "ValueError", "error": "boom", "reason": "exception"},
        {"event": "released", "by": "console", "reason": "retries_exhausted", "ts": 9_000},
        {"event": "started", "attempt": 2, "fence": 2, "worker": "w@h/2", "ts": 10_000},
    ]
    assert attempts_of(entries) == [
        Attempt(1, 1, "w@h/1", 1_000, 3_500, 2.4, "failed: ValueError: boom (exception)"),
        Attempt(None, None, "", None, 9_000, None, "released by console (retries_exhausted)"),
        Attempt(2, 2, "w@h/2", 10_000),
    ]
