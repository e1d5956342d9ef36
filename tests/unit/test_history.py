"""A task's last attempt is read from its record: the happy path writes no history entry."""

from __future__ import annotations

from relier.store.transitions import current_attempt


def test_a_running_attempt_reads_from_the_record() -> None:
    fields = {"state": b"running", "attempt": b"2", "started_fence": b"3", "holder": b"w@h/7",
              "started": b"1000"}
    assert current_attempt(fields) == [
        {"event": "started", "attempt": 2, "fence": 3, "worker": "w@h/7", "ts": 1000}]


def test_a_completion_adds_its_entry() -> None:
    fields = {"state": b"completed", "attempt": b"1", "started_fence": b"1", "process": b"w@h/7",
              "started": b"1000", "ended": b"1010", "runtime_ms": b"9"}
    assert [entry["event"] for entry in current_attempt(fields)] == ["started", "completed"]
    assert current_attempt(fields)[1] == {"event": "completed", "attempt": 1, "fence": 1,
                                          "ts": 1010, "runtime_ms": 9}


def test_other_states_and_deduplicated_completions_add_nothing() -> None:
    assert current_attempt({"state": b"queued", "started": b"1000"}) == []
    assert current_attempt({"state": b"dead_lettered", "started": b"1000"}) == []
    assert current_attempt({"state": b"completed", "deduplicated": b"other", "started": b"1"}) == []
    assert current_attempt({"state": b"completed"}) == []  # never started (a created record)


def test_garbage_numbers_read_undecodable_and_never_raise() -> None:
    fields = {"state": b"running", "attempt": b"\xff\x00garbage", "started_fence": b"NaN",
              "holder": b"w@h/\xff", "started": b"1e999"}
    assert current_attempt(fields) == [
        {"event": "started", "attempt": "undecodable (9 bytes)", "fence": "undecodable (3 bytes)",
         "worker": "w@h/\N{REPLACEMENT CHARACTER}", "ts": "undecodable (5 bytes)"}]
    assert current_attempt({"state": b"\xff", "started": b"1"}) == []
