"""Old and new workers side by side: every task runs once, on a worker that understands it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import redis

from relier import DeadLetterReason, TaskFailedError, TaskHandle
from relier.dispatch import prepare_dispatch, push
from relier.spec import build_spec
from relier.testing import FAST_LEASES, RedisServer, stop_process
from tests.conftest import start_worker
from tests.support import executions, start_resurrector

FAST_BOUNCES = {**FAST_LEASES, "RELIER_BOUNCE_DELAY": "0.2"}


def body(*args: Any, **kwargs: Any) -> None:
    return None


def pusher(basic_tasks: ModuleType, name: str, version: int) -> Callable[..., TaskHandle]:
    """Push `name` as a producer running code of `version` would."""
    relier = basic_tasks.add.relier
    spec = build_spec(body, name=name, queue="deploy", version=version, priority=0,
                      soft_timeout=None, hard_timeout=None)

    def push_one(*args: Any, **kwargs: Any) -> TaskHandle:
        return push(relier.runtime, prepare_dispatch(relier.runtime, spec, args, kwargs))

    return push_one


def test_two_versions_side_by_side(
    basic_tasks: ModuleType, redis_server: RedisServer, redis_client: redis.Redis,
    tmp_path: Path,
) -> None:
    old = start_worker(redis_server, tmp_path / "old", queues=("deploy",),
                       include=("deploy_v1",), env=FAST_BOUNCES).wait_ready()
    new = start_worker(redis_server, tmp_path / "new", queues=("deploy",),
                       include=("deploy_v2",), env=FAST_BOUNCES).wait_ready()
    resurrector = start_resurrector(redis_server.url, tmp_path / "resurrector.log")
    try:
        greet_v1 = pusher(basic_tasks, "deploy.greet", 1)
        greet_v2 = pusher(basic_tasks, "deploy.greet", 2)
        feature = pusher(basic_tasks, "deploy.new_feature", 1)
        pushed = []
        for i in range(15):
            pushed.append(("v1", greet_v1(f"ada{i}")))
            pushed.append(("v2", greet_v2(full_name=f"grace{i}")))
            if i % 3 == 0:
                pushed.append(("feature", feature(i)))
        results = [(kind, handle, handle.result(timeout=90)) for kind, handle in pushed]
    finally:
        stop_process(resurrector)
        old.stop()
        new.stop()
    for kind, handle, result in results:
        assert executions(redis_client, handle.id) == 1
        if kind == "v1":
            assert result["by"] in {"v1", "v2"}
            assert result["text"].startswith("hi ada")
        else:
            assert result["by"] == "v2"  # only the new worker understands these
    assert any(result["by"] == "v1" for _, _, result in results)
    assert "bounced for a newer worker" in old.log()


def test_a_copy_no_worker_understands_is_dead_lettered_after_its_bounces(
    basic_tasks: ModuleType, redis_server: RedisServer, redis_client: redis.Redis,
    tmp_path: Path,
) -> None:
    env = {**FAST_BOUNCES, "RELIER_MAX_BOUNCES": "2"}
    old = start_worker(redis_server, tmp_path / "old", queues=("deploy",),
                       include=("deploy_v1",), env=env).wait_ready()
    resurrector = start_resurrector(redis_server.url, tmp_path / "resurrector.log")
    try:
        too_new = pusher(basic_tasks, "deploy.greet", 3)(full_name="x")
        unknown = pusher(basic_tasks, "deploy.new_feature", 1)(1)
        for handle, reason in ((too_new, DeadLetterReason.SCHEMA_UNSUPPORTED),
                               (unknown, DeadLetterReason.UNKNOWN_TASK)):
            with pytest.raises(TaskFailedError) as caught:
                handle.result(timeout=60)
            assert caught.value.reason == reason
            assert "bounced 3 times" in caught.value.message
            assert executions(redis_client, handle.id) == 0
    finally:
        stop_process(resurrector)
        old.stop()
