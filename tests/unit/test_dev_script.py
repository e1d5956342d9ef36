"""`dev.py test` runs the suite in several pytest processes unless told how many."""

from __future__ import annotations

import dev


def test_the_suite_runs_in_several_processes_by_default() -> None:
    assert dev._parallel(["tests/unit", "-x"]) == ["-n", str(dev.TEST_PROCESSES), "tests/unit", "-x"]
    assert dev.TEST_PROCESSES >= 3


def test_a_process_count_of_ones_own_wins() -> None:
    for own in (["-n", "0"], ["-n0"], ["-n=2"], ["--numprocesses", "4"], ["--numprocesses=auto"]):
        assert dev._parallel([*own, "tests"]) == [*own, "tests"]
