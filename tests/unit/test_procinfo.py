"""/proc readings of real processes: parents, children, memory, descriptors."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from relier.procinfo import (
    children,
    descriptors,
    is_gone,
    memory,
    parent_pid,
    parse_state,
    worker_processes,
)
from relier.testing import wait_until

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux /proc")


@pytest.fixture
def child() -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    yield process
    process.kill()
    process.wait(10)


def test_parent_and_children_of_a_live_process(child: subprocess.Popen[bytes]) -> None:
    assert parent_pid(child.pid) == os.getpid()
    assert child.pid in children(os.getpid())
    assert worker_processes(child.pid) == [(child.pid, "main")]


def test_a_process_that_is_gone_has_no_parent(child: subprocess.Popen[bytes]) -> None:
    assert not is_gone(child.pid)
    child.kill()
    wait_until(lambda: is_gone(child.pid), timeout=10)  # a zombie until waited on
    child.wait(10)
    wait_until(lambda: parent_pid(child.pid) is None, timeout=10)
    assert child.pid not in children(os.getpid())


def test_memory_and_descriptors_of_this_process() -> None:
    own = memory(os.getpid(), "test")
    assert own.role == "test"
    assert own.rss_kb >= own.uss_kb > 0
    with open(os.devnull) as opened:
        found = descriptors(os.getpid(), "test")
        assert found.kinds.get("device", 0) >= 1, opened.name
    assert found.count == sum(found.kinds.values())


def test_state_letter_survives_a_name_with_spaces_and_parentheses() -> None:
    assert parse_state("42 (a (b) c) Z 1 42 42 0 -1") == "Z"
