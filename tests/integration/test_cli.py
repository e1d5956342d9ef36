"""`rl` through its real entry point, against real servers."""

from __future__ import annotations

import functools
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from relier.devserver import free_port, wait_until
from relier.testing import RedisServer


def server_answers(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


def rl(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "relier.cli", *args],
        capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})}, check=False,
    )


def test_doctor_passes_on_a_safe_server(redis_server: RedisServer) -> None:
    result = rl("doctor", env={"RELIER_REDIS_URL": redis_server.url})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "appendonly yes" in result.stdout
    assert "result: ready" in result.stdout


def test_doctor_json_names_the_failure(tmp_path: Path) -> None:
    server = RedisServer(tmp_path, appendonly=False, notify_keyspace_events="").start()
    try:
        result = rl("doctor", "--json", env={"RELIER_REDIS_URL": server.url})
    finally:
        server.stop()
    assert result.returncode == 1
    report = json.loads(result.stdout)
    by_name = {check["name"]: check for check in report["checks"]}
    assert by_name["appendonly"]["severity"] == "error"
    assert "CONFIG SET appendonly yes" in by_name["appendonly"]["fix"]
    assert by_name["keyspace-notifications"]["severity"] == "warning"


def test_doctor_unreachable_server_is_one_clear_failure() -> None:
    result = rl("doctor", env={"RELIER_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"})
    assert result.returncode == 1
    assert "cannot reach Redis" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_doctor_never_prints_the_password() -> None:
    url = f"redis://user:hunter2secret@127.0.0.1:{free_port()}/0"
    result = rl("doctor", "--json", env={"RELIER_REDIS_URL": url})
    assert "hunter2secret" not in result.stdout + result.stderr
    assert json.loads(result.stdout)["redis_url"].startswith("redis://user:***@127.0.0.1:")


@pytest.mark.parametrize(
    "args",
    [("doctor", "--bogus"), ("no-such-command",), ("dev", "--port", "notaport"),
     ("dlq", "show"), ("dlq", "inspect", "a", "b"), ("dlq", "list", "--reason", "bogus"),
     ("dlq", "purge", "--older-than", "soon"), ("chaos", "no-such-scenario")],
)
def test_bad_usage_is_one_line_and_exit_2(args: tuple[str, ...]) -> None:
    result = rl(*args)
    assert result.returncode == 2
    assert result.stderr.startswith("rl: error: ")
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("args", [(), ("dlq",), ("tasks",)])
def test_a_group_without_a_command_prints_its_help(args: tuple[str, ...]) -> None:
    result = rl(*args)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"Usage: rl {' '.join(args)}".rstrip() + " [OPTIONS] COMMAND")
    assert "Examples:" in result.stdout
    assert result.stderr == ""


def test_bad_setting_is_one_line_and_exit_2() -> None:
    result = rl("workers", env={"RELIER_SOCKET_TIMEOUT": "soon"})
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "rl: configuration error: RELIER_SOCKET_TIMEOUT: could not convert string to float: 'soon'"
    )


@pytest.mark.parametrize("keys", ["a:" + "x" * 20 + ",a:" + "y" * 20, "a:short"])
def test_doctor_fails_on_key_mistakes(keys: str) -> None:
    result = rl("doctor", env={"RELIER_SECRET_KEYS": keys})
    assert result.returncode == 1
    assert "RELIER_SECRET_KEYS" in result.stdout
    assert "workers would refuse to start" in result.stdout


def test_doctor_reports_unknown_and_renamed_settings() -> None:
    result = rl("doctor", env={"RELIER_REDIS_URLL": "x", "RELIER_HEARTBEAT_TTL": "3"})
    assert "did you mean RELIER_REDIS_URL?" in result.stdout
    assert "read as RELIER_LEASE_TTL" in result.stdout


def test_dev_serves_with_aof_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "relier.cli", "dev", "--port", str(port), "--dir", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        client = redis.Redis(port=port, socket_timeout=2)
        answers = functools.partial(server_answers, client)
        wait_until(answers, timeout=30)
        assert client.config_get("appendonly")["appendonly"] == "yes"
        assert client.config_get("maxmemory-policy")["maxmemory-policy"] == "noeviction"
        assert client.info("server").get("valkey_version")
        client.close()
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0
    assert f"redis://127.0.0.1:{port}/0" in output
    assert "server stopped" in output
    assert list(tmp_path.glob("appendonly*"))


def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    result = rl("demo", "--duration", "3", "--rate", "10", "--dir", str(tmp_path), timeout=150)
    assert result.returncode == 0, result.stdout + result.stderr
    final = result.stdout.strip().splitlines()[-1]
    assert final.startswith("final: pushed")
    fields = final.split()
    pushed, completed, dead = int(fields[2]), int(fields[4]), int(fields[6])
    assert pushed >= 10
    assert completed + dead == pushed


def test_dev_server_does_not_outlive_a_killed_rl_dev(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "relier.cli", "dev", "--port", str(port), "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port, socket_timeout=2)
    answers = functools.partial(server_answers, client)

    try:
        wait_until(answers, timeout=30)
        process.kill()
        process.wait(10)
        wait_until(lambda: not answers(), timeout=15, message="the server outlived rl dev")
    finally:
        client.close()


@pytest.mark.parametrize(
    "args",
    [("workers",), ("tasks", "inflight"), ("tasks", "show", "x"), ("dlq", "list"),
     ("admission", "status"), ("slo",), ("push", "t.x"), ("tail", "--count", "1")],
)
def test_unreachable_server_is_one_line_and_exit_1(args: tuple[str, ...]) -> None:
    url = f"redis://:s3cret@127.0.0.1:{free_port()}/0"
    result = rl(*args, env={"RELIER_REDIS_URL": url, "RELIER_SOCKET_TIMEOUT": "1"})
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith("rl: error: ")
    assert "s3cret" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_resurrector_once_json(redis_server: RedisServer) -> None:
    result = rl("run-resurrector", "--once", "--json", env={"RELIER_REDIS_URL": redis_server.url})
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert {"processes", "requeued", "dead_lettered", "promoted", "reconciled"} <= set(report)
