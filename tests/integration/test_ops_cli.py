"""`rl workers`, `rl tasks`, `rl tail` and `rl push` through the real entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import redis

from relier.keys import Keys
from relier.testing import FAST_LEASES, CeleryWorker, RedisServer, stop_process, wait_until
from tests.conftest import start_worker
from tests.support import running_pid, start_resurrector


def rl_env(server: RedisServer) -> dict[str, str]:
    return {**os.environ, "RELIER_REDIS_URL": server.url,
            "PYTHONPATH": os.pathsep.join(sys.path)}


def rl(server: RedisServer, *args: str,
       env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "relier.cli", *args], capture_output=True,
                          text=True, timeout=60, check=False, env={**rl_env(server), **(env or {})})


def listed_workers(server: RedisServer, *flags: str) -> dict[str, dict[str, Any]]:
    """`rl workers --json` (with `flags`) by node."""
    result = rl(server, "workers", "--json", *flags)
    assert result.returncode == 0, result.stderr
    return {str(view["node"]): view for view in json.loads(result.stdout)}


def test_workers_lists_the_worker_and_its_processes(
    default_worker: CeleryWorker, redis_server: RedisServer
) -> None:
    def listed() -> list[dict[str, object]] | None:
        views = json.loads(rl(redis_server, "workers", "--json").stdout)
        mine = [view for view in views if str(view["node"]).startswith(default_worker.hostname)]
        return mine if mine and mine[0]["processes"] else None

    view = wait_until(listed, timeout=30)[0]
    assert "default" in view["queues"]  # type: ignore[operator]
    assert view["pool"] == "prefork"
    assert 0 <= float(view["lease_age"]) < 5  # type: ignore[arg-type]
    assert len(view["processes"]) == 2  # type: ignore[arg-type]


def test_inflight_and_show_a_running_task(
    basic_tasks: ModuleType, default_worker: CeleryWorker, redis_server: RedisServer,
    redis_client: redis.Redis,
) -> None:
    handle = basic_tasks.hold.push(120)  # running through every rl call, however slow the machine
    running_pid(redis_client, handle.id)
    rows = json.loads(rl(redis_server, "tasks", "inflight", "--json").stdout)
    row = next(row for row in rows if row["id"] == handle.id)
    assert row["task"] == "tests.hold"
    assert row["state"] == "running"
    assert row["attempt"] == 1
    assert row["holder"].startswith(default_worker.hostname)
    assert row["running_for"] >= 0
    shown = json.loads(rl(redis_server, "tasks", "show", handle.id, "--json").stdout)
    assert shown["state"] == "running"
    assert [entry["event"] for entry in shown["history"]] == ["started"]
    assert rl(redis_server, "tasks", "show", "no-such-task").returncode == 1
    assert basic_tasks.hold.relier.cancel(handle.id, terminate=True) == "cancelled"
    wait_until(lambda: handle.id not in json.dumps(
        json.loads(rl(redis_server, "tasks", "inflight", "--json").stdout)), timeout=60)


def test_push_by_name_and_bad_json(
    basic_tasks: ModuleType, default_worker: CeleryWorker, redis_server: RedisServer
) -> None:
    pushed = rl(redis_server, "push", "tests.add", "--args", "[2, 3]")  # not imported here
    assert pushed.returncode == 0, pushed.stderr
    task_id = pushed.stdout.strip()
    from relier import TaskHandle

    assert TaskHandle(task_id, basic_tasks.add.relier).result(timeout=30) == 5
    bad = rl(redis_server, "push", "tests.add", "--args", "[2,")
    assert bad.returncode == 2
    assert bad.stderr.startswith("rl: error: ")
    assert "--args" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
    not_list = rl(redis_server, "push", "tests.add", "--args", '{"a": 1}')
    assert not_list.returncode == 2


def test_tail_and_follow_see_events_as_they_happen(
    basic_tasks: ModuleType, default_worker: CeleryWorker, redis_server: RedisServer,
    redis_client: redis.Redis,
) -> None:
    newest = redis_client.xrevrange("rl:events", count=1)
    since = newest[0][0].decode() if newest else "0"
    tail = subprocess.Popen(
        [sys.executable, "-m", "relier.cli", "tail", "--json", "--task", "tests.add",
         "--type", "completed", "--count", "1", "--since", since],
        stdout=subprocess.PIPE, text=True, env=rl_env(redis_server),
    )
    follow = subprocess.Popen(
        [sys.executable, "-m", "relier.cli", "tasks", "inflight", "--follow", "--json",
         "--interval", "0.2"],
        stdout=subprocess.PIPE, text=True, env=rl_env(redis_server),
    )
    try:
        assert follow.stdout is not None
        assert json.loads(follow.stdout.readline())["tasks"] is not None  # it is running
        handle = basic_tasks.add.push(40, 2)
        assert handle.result(timeout=30) == 42
        output, _ = tail.communicate(timeout=30)
        event = json.loads(output.strip().splitlines()[-1])
        assert event["id"] == handle.id
        assert event["type"] == "completed"
        held = basic_tasks.hold.push(3)
        wait_until(lambda: held.id in follow.stdout.readline(), timeout=30)  # type: ignore[union-attr]
    finally:
        for process in (follow, tail):
            process.kill()
            process.wait(10)
            if process.stdout is not None:
                process.stdout.close()


def test_read_commands_change_nothing(
    basic_tasks: ModuleType, default_worker: CeleryWorker, redis_server: RedisServer,
    redis_client: redis.Redis,
) -> None:
    """Each read command runs as a Redis user that may not write: any write is refused by the
    server (NOPERM) and fails the command, whatever else runs against the same server."""
    assert basic_tasks.add.push(1, 1).result(timeout=30) == 2  # something for `tail` to read
    redis_client.acl_setuser("reader", enabled=True, passwords=["+read-only-pass"],
                             keys=["*"], channels=["*"],
                             commands=["+@all", "-@write", "-config|set", "-config|rewrite",
                                       "-config|resetstat", "-shutdown", "-debug", "-acl"])
    user, _, host = redis_server.url.partition("://")
    reader_url = f"{user}://reader:read-only-pass@{host}"
    try:
        for args in (("workers", "--json"), ("workers", "--all", "--json"),
                     ("tasks", "inflight", "--json"),
                     ("dlq", "list", "--json"), ("admission", "status", "--json"),
                     ("tail", "--since", "0", "--count", "1")):
            result = subprocess.run(
                [sys.executable, "-m", "relier.cli", *args], capture_output=True, text=True,
                timeout=60, check=False, env={**rl_env(redis_server), "RELIER_REDIS_URL": reader_url})
            assert result.returncode == 0, (args, result.stderr)
    finally:
        redis_client.acl_deluser("reader")


def test_a_killed_worker_is_listed_dead_then_forgotten(
    redis_server: RedisServer, redis_client: redis.Redis, tmp_path: Path
) -> None:
    worker = start_worker(redis_server, tmp_path / "worker", env=FAST_LEASES).wait_ready()
    node = f"{worker.hostname}/{worker.pid}"
    live = wait_until(lambda: listed_workers(redis_server).get(node), timeout=30)
    assert live["state"] == "live"
    assert 0 <= live["last_seen_age"] < float(FAST_LEASES["RELIER_LEASE_TTL"])
    resurrector = start_resurrector(redis_server.url, tmp_path / "resurrector.log")
    try:
        worker.kill()  # SIGKILL to the whole process group: no shutdown signal, no unregistering

        def reaped_and_dead() -> dict[str, Any] | None:
            view = listed_workers(redis_server, "--all").get(node)
            return view if view is not None and view["lease_age"] is None else None

        dead = wait_until(reaped_and_dead, timeout=30, message="the killed worker never showed dead")
        # its lease is gone (reaped), and the last refresh the resurrector kept dates it
        assert dead["state"] == "dead"
        assert dead["last_seen_age"] >= float(FAST_LEASES["RELIER_LEASE_TTL"])
        assert node not in listed_workers(redis_server)
        table = rl(redis_server, "workers", "--all").stdout
        row = next(line for line in table.splitlines() if line.startswith(node))
        assert row.split()[1] == "dead"
        assert row.split()[-2].endswith("s")  # the last-seen age, with its unit
        assert node not in rl(redis_server, "workers").stdout

        # a pass with a one-second retention forgets it (a pass may be quiet after a gap)
        def forgotten() -> bool:
            result = rl(redis_server, "run-resurrector", "--once", "--json",
                        env={**FAST_LEASES, "RELIER_DEAD_WORKER_RETENTION": "1"})
            assert result.returncode == 0, result.stderr
            return node not in listed_workers(redis_server, "--all")

        wait_until(forgotten, timeout=60, message="the dead worker was never forgotten")
    finally:
        stop_process(resurrector)
    keys = Keys()
    assert not redis_client.hexists(keys.workers, node)
    assert redis_client.zscore(keys.dead_workers, node) is None
    assert node not in rl(redis_server, "workers", "--all").stdout


def test_a_worker_forgotten_while_cut_off_registers_again(
    redis_server: RedisServer, redis_client: redis.Redis, tmp_path: Path
) -> None:
    """What a cut-off worker finds when it reaches Redis again after the retention: its lease
    reaped and its registration forgotten. Its next refresh puts both back."""
    worker = start_worker(redis_server, tmp_path, concurrency=1, env=FAST_LEASES).wait_ready()
    node = f"{worker.hostname}/{worker.pid}"
    keys = Keys()
    try:
        wait_until(lambda: node in listed_workers(redis_server), timeout=30)
        with redis_client.pipeline(transaction=True) as pipe:
            pipe.zrem(keys.leases, node)
            pipe.hdel(keys.workers, node)
            pipe.zadd(keys.dead_workers, {node: 1})
            pipe.execute()
        back = wait_until(lambda: listed_workers(redis_server).get(node), timeout=30,
                          message="the worker never registered again")
        assert back["state"] == "live"
        assert redis_client.zscore(keys.dead_workers, node) is None
    finally:
        worker.stop()
    assert not redis_client.hexists(keys.workers, node)  # a clean shutdown unregisters
