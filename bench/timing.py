"""Timing loops shared by the latency benchmarks."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Sequence


def warm_up(calls: Sequence[Callable[[], object]], rounds: int) -> None:
    """Make `rounds` untimed rounds of every call, in order, then collect garbage."""
    for _ in range(rounds):
        for call in calls:
            call()
    gc.collect()


def interleave(
    first: Callable[[], object], second: Callable[[], object], calls: int
) -> tuple[list[int], list[int]]:
    """Time `calls` calls of each, alternating which of the two goes first."""
    first_ns: list[int] = []
    second_ns: list[int] = []
    clock = time.perf_counter_ns
    for index in range(calls):
        if index % 2 == 0:
            one, two, one_ns, two_ns = first, second, first_ns, second_ns
        else:
            one, two, one_ns, two_ns = second, first, second_ns, first_ns
        start = clock()
        one()
        middle = clock()
        two()
        end = clock()
        one_ns.append(middle - start)
        two_ns.append(end - middle)
    return first_ns, second_ns
