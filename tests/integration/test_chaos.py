"""The chaos scenarios reach their verdicts against real processes (short profile)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from relier.testing import RedisServer


def _chaos(name: str, options: list[str], url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, "-m", "relier.cli", "chaos", name, "--json", *extra]
    for option in options:
        args += ["--option", option]
    return subprocess.run(args, capture_output=True, text=True, timeout=300, check=False,
                          env={**os.environ, "RELIER_REDIS_URL": url})


def _held(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    verdict: dict[str, Any] = json.loads(result.stdout)
    assert result.returncode == 0, verdict
    assert verdict["held"] is True
    assert verdict["failures"] == []
    return verdict


@pytest.mark.parametrize(
    ("name", "options"),
    [("task-corrupt", ["rounds=1"]), ("slow-task", ["tasks=1"]),
     ("worker-kill", ["tasks=4", "kills=2", "seconds=1"]),
     ("worker-kill", ["tasks=3", "kills=1", "seconds=3", "whole_worker=true"]),
     ("worker-pause", []), ("resurrector-kill", ["tasks=2"]),
     ("load-spike", ["duration=2", "rate=150"]),
     ("rolling-deploy", ["rounds=2", "tasks=4"])],
    ids=["task-corrupt", "slow-task", "worker-kill", "worker-kill-whole", "worker-pause",
         "resurrector-kill", "load-spike", "rolling-deploy"],
)
def test_scenario_holds(name: str, options: list[str], redis_server: RedisServer) -> None:
    verdict = _held(_chaos(name, options, redis_server.url))
    numbers = verdict["numbers"]
    if name == "worker-kill":
        assert numbers["completed_twice"] == 0
        assert numbers["lost"] == 0
        assert numbers["kills"] >= 1
    if name == "rolling-deploy":
        assert numbers["lost"] == 0
        assert numbers["completed_twice"] == 0
        assert numbers["ran_on_too_old_code"] == 0
        assert numbers["ran_on_new_code"] >= 1
        assert numbers["workers_replaced"] == 2


@pytest.mark.parametrize("mode", ["partition", "cut"])
def test_network_partition_holds(mode: str, redis_server: RedisServer) -> None:
    verdict = _held(_chaos("network-partition", [f"mode={mode}"], redis_server.url))
    numbers = verdict["numbers"]
    assert numbers["taken_over"] == numbers["tasks"] == numbers["completed"]
    assert numbers["completed_twice"] == 0
    # every far-side body that ran to its end had its fenced side effect refused
    assert numbers["late_side_effects_refused"] == numbers["bodies_finished_on_both_sides"]


@pytest.mark.parametrize("appendfsync", ["everysec", "always"])
def test_redis_restart_holds_on_a_server_it_owns(appendfsync: str, redis_server: RedisServer) -> None:
    verdict = _held(_chaos("redis-restart", ["duration=2", f"appendfsync={appendfsync}"], redis_server.url,
                           "--own-server"))
    numbers = verdict["numbers"]
    assert numbers["appendfsync"] == appendfsync
    if appendfsync == "always":
        assert numbers["allowed_by_fsync_bound"] == 0
        assert numbers["lost"] == 0
    assert numbers["lost"] <= numbers["allowed_by_fsync_bound"]
    assert numbers["pushed_after_restart"] > 0
    assert numbers["worker_reconnected"] is True
    assert numbers["resurrector_reconnected"] is True
    # the outage reached the producer: its pushes were refused (never sent) or retried through it
    assert numbers["refused_while_down"] + numbers["waited_through_outage"] > 0


def test_redis_restart_refuses_a_server_it_does_not_own(redis_server: RedisServer) -> None:
    result = _chaos("redis-restart", [], redis_server.url)
    assert result.returncode == 2
    assert "--own-server" in result.stderr
    assert redis_server.client().ping()


def test_unknown_option_is_a_usage_error(redis_server: RedisServer) -> None:
    result = _chaos("slow-task", ["bogus=1"], redis_server.url)
    assert result.returncode == 2
    assert "has no option bogus" in result.stderr


def test_the_seeds_watch_command_shows_status_then_ends_the_watch(redis_server: RedisServer) -> None:
    """`rl chaos worker-kill --seed N --watch --watch-duration S`: events and a status line a
    second until S, one line saying the watch ended, then only the verdict."""
    result = _chaos("worker-kill", ["tasks=3", "kills=1", "seconds=4"], redis_server.url,
                    "--seed", "42", "--watch", "--watch-duration", "3")
    verdict = _held(result)
    assert verdict["numbers"]["kills"] == 1
    lines = result.stderr.strip().splitlines()
    labels = [line.split("] ", 1)[1].split(" ", 1)[0] for line in lines if "] " in line]
    assert labels[0] == "started"
    assert "status" in labels
    status = json.loads(next(line for line in lines if "] status " in line).split("] status ", 1)[1])
    assert set(status) == {"attempts_started", "tasks_started", "tasks_completed"}
    assert labels[-1] == "watch-ended"  # nothing after it: the watch is over
    assert labels.count("watch-ended") == 1


@pytest.mark.parametrize("extra", [("--watch-duration", "0"), ("--watch-duration", "soon"),
                                   ("--seed", "x")])
def test_bad_watch_arguments_are_one_line_and_exit_2(extra: tuple[str, ...],
                                                     redis_server: RedisServer) -> None:
    result = _chaos("worker-kill", [], redis_server.url, *extra)
    assert result.returncode == 2
    assert result.stderr.startswith("rl: error: ")
    assert len(result.stderr.strip().splitlines()) == 1
