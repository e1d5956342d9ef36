"""The chaos scenarios reach their verdicts against real processes (short profile)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from relier.testing import RedisServer


@pytest.mark.parametrize(
    ("name", "options"),
    [("task-corrupt", ["rounds=1"]), ("slow-task", ["tasks=1"]),
     ("worker-kill", ["tasks=4", "kills=2", "seconds=1"]),
     ("worker-kill", ["tasks=3", "kills=1", "seconds=3", "whole_worker=true"]),
     ("worker-pause", []), ("resurrector-kill", ["tasks=2"]),
     ("load-spike", ["duration=2", "rate=150"])],
    ids=["task-corrupt", "slow-task", "worker-kill", "worker-kill-whole", "worker-pause",
         "resurrector-kill", "load-spike"],
)
def test_scenario_holds(name: str, options: list[str], redis_server: RedisServer) -> None:
    args = [sys.executable, "-m", "relier.cli", "chaos", name, "--json"]
    for option in options:
        args += ["--option", option]
    result = subprocess.run(args, capture_output=True, text=True, timeout=300, check=False,
                            env={**os.environ, "RELIER_REDIS_URL": redis_server.url})
    verdict = json.loads(result.stdout)
    assert result.returncode == 0, verdict
    assert verdict["held"] is True
    assert verdict["failures"] == []
    if name == "worker-kill":
        assert verdict["numbers"]["completed_twice"] == 0
        assert verdict["numbers"]["lost"] == 0
        assert verdict["numbers"]["kills"] >= 1


def test_unknown_option_is_a_usage_error(redis_server: RedisServer) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "relier.cli", "chaos", "slow-task", "--option", "bogus=1"],
        capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "RELIER_REDIS_URL": redis_server.url},
    )
    assert result.returncode == 2
    assert "has no option bogus" in result.stderr
