"""Outcomes are counted once, in the terminal transitions, and `rl slo` reports them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from types import ModuleType

import pytest

from relier import TaskFailedError
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
