"""docs/celery-compat.md's list of Celery's own integration tests is generated, never edited.

The section between the celery-suite markers must be exactly what `tests.celery_suite.report`
renders from the committed results (``nox -s celery_suite`` writes both), and the results must
agree with themselves and with the causes in `tests.celery_suite.causes`.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.celery_suite import causes, outcomes, report, runner


@pytest.fixture(scope="module")
def results() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(runner.RESULTS.read_text())
    return loaded


def test_the_docs_section_is_generated_from_the_results(results: dict[str, Any]) -> None:
    section = report.section_of(runner.DOCS.read_text())
    assert section == report.render(results), (
        "docs/celery-compat.md's celery-suite section is stale or edited by hand: "
        "python -m tests.celery_suite --reclassify")


def test_the_results_are_consistent(results: dict[str, Any]) -> None:
    assert outcomes.problems(results, runner.MODULES) == []
    assert results["modules"] == list(runner.MODULES)
    assert sum(results["totals"].values()) == len(results["tests"]) > 0


def test_each_failure_has_the_cause_the_causes_module_gives_it(results: dict[str, Any]) -> None:
    assert runner.classified(results) == results, (
        "tests/celery_suite/causes.py changed since the results were classified: "
        "python -m tests.celery_suite --reclassify")


def test_the_counts_reject_a_hand_edit(results: dict[str, Any]) -> None:
    edited = json.loads(json.dumps(results))
    test_id = next(iter(edited["tests"]))
    edited["tests"][test_id]["outcome"] = "passed" if edited["tests"][test_id]["outcome"] != "passed" \
        else "skipped"
    assert outcomes.problems(edited)


def test_a_phase_outcome_is_the_worst_of_its_reports() -> None:
    passed = outcomes.phase_outcome("call", "passed", "", None)
    broken = outcomes.phase_outcome("teardown", "failed", "RuntimeError: boom\nmore", None)
    assert outcomes.worst(passed, broken) == outcomes.Outcome("error", "teardown: RuntimeError: boom")
    failed = outcomes.phase_outcome("call", "failed", "AssertionError: x", None)
    assert outcomes.worst(failed, broken) == failed
    assert outcomes.phase_outcome("call", "skipped", "", "known") == outcomes.Outcome(
        "skipped", "xfail: known")


def test_the_section_is_replaced_between_the_markers_only() -> None:
    document = f"intro\n{report.START}\nold\n{report.END}\nafter\n"
    replaced = report.replace_section(document, "new\n")
    assert replaced == f"intro\n{report.START}\nnew\n{report.END}\nafter\n"
    assert report.section_of(replaced) == "new\n"
    with pytest.raises(ValueError, match="celery-suite"):
        report.replace_section("no markers", "new\n")


def test_a_failure_that_plain_celery_shares_is_not_relier_s() -> None:
    record = {"outcome": "failed", "reason": "anything", "plain": "failed"}
    assert causes.classify("t/integration/test_x.py::test_y", record) is causes.PLAIN_CELERY_FAILS_TOO
