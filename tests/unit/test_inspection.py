"""A worker's state as `rl workers` and the console show it."""

from __future__ import annotations

import pytest

from relier.inspection import WorkerState, worker_state


@pytest.mark.parametrize(("lease_age", "expected"), [
    (0.0, WorkerState.LIVE),
    (4.99, WorkerState.LIVE),
    (5.0, WorkerState.DEAD),  # as old as the TTL: expired
    (120.0, WorkerState.DEAD),
    (None, WorkerState.DEAD),  # reaped: no lease at all
])
def test_a_worker_is_dead_once_its_lease_expired(lease_age: float | None,
                                                 expected: WorkerState) -> None:
    assert worker_state(lease_age, lease_ttl=5.0) is expected
