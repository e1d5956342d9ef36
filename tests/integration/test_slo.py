"""Outcomes are counted once, in the terminal transitions, and `rl slo` reports them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from types import ModuleType

import pytest
import redis

from relier import TaskFailedError
from relier.slo import prune, read_windows
from relier.testing import CeleryWorker, RedisServer


def test_completions_and_dead_letters_feed_the_burn_rates(
    basic_tasks: ModuleType, default_worker: CeleryWorker, redis_server: RedisServer
) -> None:
    handles = [basic_tasks.slo_probe.push(True) for _ in range(3)]
    failing = basic_tasks.slo_probe.push(False)
    for handle in handles:
        assert handle.result(timeout=30) is True
    with pytest.raises(TaskFailedError):
        failing.result(timeout=30)
    result = subprocess.run(
        [sys.executable, "-m", "relier.cli", "slo", "--task", "tests.slo_probe", "--json",
         "--objective", "0.99"],
        capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "RELIER_REDIS_URL": redis_server.url},
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)[0]
    window = report["windows"]["5m"]
    assert (window["good"], window["bad"]) == (3, 1)
    assert window["availability"] == pytest.approx(0.75)
    assert window["burn_rate"] == pytest.approx(25.0)
    assert report["windows"]["3d"]["good"] == 3
    firing = {alert["name"] for alert in report["alerts"] if alert["firing"]}
    assert firing == {"fast-burn", "slow-burn", "budget-burn"}


def test_closed_hours_roll_up_once_and_three_days_keep_counting_them(
    basic_tasks: ModuleType, redis_client: redis.Redis,
) -> None:
    store = basic_tasks.add.relier.store
    seconds, micros = redis_client.time()
    now = int(seconds) * 1000 + int(micros) // 1000
    hour = now // 3_600_000
    task = f"rollup-{uuid.uuid4().hex}"
    old = (hour - 8) * 60 + 10  # past what minute counters keep (6 h 5 min); hour not rolled up
    recent = (hour - 2) * 60 + 30  # a closed hour still read from its minutes
    for minute, ok, bad in ((old, 3, 1), (old + 1, 2, 0), (recent, 4, 2)):
        for outcome, count in (("ok", ok), ("bad", bad)):
            if count:
                redis_client.hincrby(store.keys.slo, f"{task}|m|{minute}|{outcome}", count)

    def three_days() -> tuple[int, int]:
        counts = read_windows(store, task)["3d"]
        return counts.good, counts.bad

    assert three_days() == (4, 2)  # the old hour's minutes are not read, and it is not rolled up
    assert prune(store, now) >= 3  # the old minutes, after their hour was rolled up
    assert redis_client.hmget(store.keys.slo, f"{task}|h|{hour - 8}|ok", f"{task}|h|{hour - 8}|bad",
                              f"{task}|h|{hour - 2}|ok") == [b"5", b"1", b"4"]
    assert redis_client.hget(store.keys.slo, f"{task}|m|{recent}|ok") == b"4"  # still kept
    assert three_days() == (9, 3)  # the recent hour counted once: from its minutes
    # an hour is rolled up once (HSETNX: two resurrectors agree); a count landing late in it
    # still shows while the hour is read from its minutes
    redis_client.hincrby(store.keys.slo, f"{task}|m|{(hour - 2) * 60 + 31}|bad", 1)
    prune(store, now)
    assert redis_client.hget(store.keys.slo, f"{task}|h|{hour - 2}|bad") == b"2"
    assert three_days() == (9, 4)
