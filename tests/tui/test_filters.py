"""The console's filter syntax: pure logic."""

from __future__ import annotations

from relier_tui.filters import Filter


def test_fields_match_exactly_and_words_anywhere() -> None:
    where = Filter.parse("type=completed charge")
    assert where.fields == {"type": "completed"}
    assert where.words == ("charge",)
    assert where.matches({"type": "completed", "task": "billing.charge"})
    assert not where.matches({"type": "failed", "task": "billing.charge"})
    assert not where.matches({"type": "completed", "task": "email.send"})


def test_empty_filter_matches_everything() -> None:
    assert Filter.parse("  ").is_empty
    assert Filter.parse("").matches({"anything": 1})


def test_a_bare_equals_sign_is_a_word() -> None:
    assert Filter.parse("a= =b").words == ("a=", "=b")
