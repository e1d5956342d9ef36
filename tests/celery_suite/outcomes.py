"""Each Celery test's outcome from pytest's phase reports, and the results document.

Plain functions over plain data: `plugin` feeds reports in, the runner writes the results
document, the docs generator and the unit test read it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

#: Worst last: a test's outcome is the worst of its phases'.
OUTCOMES = ("passed", "skipped", "error", "failed")
NOT_PASSED = ("failed", "error")
_REASON_LENGTH = 200


@dataclass(frozen=True, slots=True)
class Outcome:
    outcome: str
    reason: str = ""


def one_line(text: str) -> str:
    """The first non-empty line of `text`, whitespace collapsed, cut to a readable length."""
    line = next((line for line in text.splitlines() if line.strip()), "")
    line = re.sub(r"\s+", " ", line).strip()
    return line if len(line) <= _REASON_LENGTH else line[: _REASON_LENGTH - 1] + "…"


def phase_outcome(when: str, outcome: str, reason: str, wasxfail: str | None) -> Outcome:
    """The test outcome one phase report (setup, call, teardown) stands for."""
    if wasxfail is not None:  # an xfail that failed as expected, or a non-strict xpass
        if outcome == "skipped":
            return Outcome("skipped", one_line(f"xfail: {wasxfail}"))
        return Outcome("passed", one_line(f"xpassed: {wasxfail}"))
    if outcome == "failed":
        if when == "call":
            return Outcome("failed", one_line(reason))
        return Outcome("error", one_line(f"{when}: {reason}"))
    if outcome == "skipped":
        return Outcome("skipped", one_line(reason))
    return Outcome("passed")


def worst(current: Outcome | None, new: Outcome) -> Outcome:
    """The outcome a test keeps when one more of its phases reports (the first reason of the
    worst outcome)."""
    if current is None or OUTCOMES.index(new.outcome) > OUTCOMES.index(current.outcome):
        return new
    return current


def module_of(test_id: str) -> str:
    return test_id.split("::", 1)[0]


def counts(tests: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, int]]:
    """Per test module, how many tests ended in each outcome (every outcome listed)."""
    per_module: dict[str, Counter[str]] = {}
    for test_id, record in tests.items():
        per_module.setdefault(module_of(test_id), Counter())[record["outcome"]] += 1
    return {module: {outcome: counter[outcome] for outcome in OUTCOMES}
            for module, counter in sorted(per_module.items())}


def totals(per_module: Mapping[str, Mapping[str, int]]) -> dict[str, int]:
    return {outcome: sum(module[outcome] for module in per_module.values()) for outcome in OUTCOMES}


def problems(results: Mapping[str, Any], modules: Iterable[str] | None = None) -> list[str]:
    """What is inconsistent in a results document (empty when it is consistent)."""
    found: list[str] = []
    tests: Mapping[str, Mapping[str, Any]] = results["tests"]
    if results["counts"] != counts(tests):
        found.append("counts differ from the per-test outcomes")
    if results["totals"] != totals(results["counts"]):
        found.append("totals differ from the per-module counts")
    for test_id, record in tests.items():
        if record["outcome"] not in OUTCOMES:
            found.append(f"{test_id}: unknown outcome {record['outcome']!r}")
        elif record["outcome"] != "passed" and not record.get("reason"):
            found.append(f"{test_id}: {record['outcome']} without a reason")
        if record["outcome"] in NOT_PASSED and record.get("cause") not in results["causes"]:
            found.append(f"{test_id}: cause {record.get('cause')!r} is not described")
    for module in modules or ():
        if module not in results["counts"]:
            found.append(f"{module}: no test recorded")
    return found
