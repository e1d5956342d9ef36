"""The resurrector's dead-worker retention, decided from plain data (times in server ms)."""

from __future__ import annotations

from relier.phoenix import DeadWorkerSweep, plan_dead_worker_sweep

NOW = 10_000_000
EXPIRED_BEFORE = NOW - 6_000  # lease TTL 5 s + refresh interval 1 s
FORGET_BEFORE = NOW - 3_600_000  # one hour of retention


def plan(leases: dict[str, float | None], kept: dict[str, float | None],
         old_entries: list[str] | None = None, limit: int = 200) -> DeadWorkerSweep:
    return plan_dead_worker_sweep(leases, kept, old_entries or [], expired_before=EXPIRED_BEFORE,
                                  forget_before=FORGET_BEFORE, limit=limit)


def test_a_worker_reaped_longer_ago_than_the_retention_is_forgotten() -> None:
    sweep = plan({"w@a/1": None}, {"w@a/1": FORGET_BEFORE - 1}, ["w@a/1"])
    assert sweep == DeadWorkerSweep(forget=["w@a/1"], discard=[], time_from_now=[])


def test_a_worker_dead_within_the_retention_is_kept() -> None:
    sweep = plan({"w@a/1": None}, {"w@a/1": FORGET_BEFORE + 1})
    assert sweep == DeadWorkerSweep(forget=[], discard=[], time_from_now=[])


def test_live_workers_are_never_forgotten_and_their_stale_entries_go() -> None:
    """A worker whose lease is fresh came back: an old last-seen entry of it is dropped."""
    sweep = plan({"w@a/1": NOW - 500}, {"w@a/1": FORGET_BEFORE - 1}, ["w@a/1"])
    assert sweep == DeadWorkerSweep(forget=[], discard=["w@a/1"], time_from_now=[])


def test_an_expired_lease_waits_for_the_reaper() -> None:
    """Forgetting only workers without a lease means a cut-off worker finds its lease missing
    at its next refresh, and registers again."""
    sweep = plan({"w@a/1": FORGET_BEFORE - 1}, {"w@a/1": FORGET_BEFORE - 1}, ["w@a/1"])
    assert sweep == DeadWorkerSweep(forget=[], discard=[], time_from_now=[])


def test_a_dead_worker_with_no_last_seen_is_timed_from_now() -> None:
    assert plan({"w@a/1": None}, {"w@a/1": None}).time_from_now == ["w@a/1"]


def test_entries_of_unregistered_workers_are_discarded() -> None:
    assert plan({}, {}, ["gone@a/1"]).discard == ["gone@a/1"]


def test_a_sweep_forgets_at_most_its_limit() -> None:
    nodes = [f"w@a/{pid}" for pid in range(5)]
    sweep = plan(dict.fromkeys(nodes), dict.fromkeys(nodes, FORGET_BEFORE - 1), limit=3)
    assert sweep.forget == nodes[:3]
