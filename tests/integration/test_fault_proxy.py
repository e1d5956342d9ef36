"""The loopback fault proxy really cuts, partitions, drops and delays traffic to a real Redis."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest
import redis

from relier.chaos.proxy import FaultProxy, ProxyControl, send_control
from relier.devserver import free_port, wait_until
from relier.testing import RedisServer


@pytest.fixture
def proxy(redis_server: RedisServer) -> Iterator[FaultProxy]:
    fault_proxy = FaultProxy("127.0.0.1", redis_server.port).start()
    yield fault_proxy
    fault_proxy.stop()


def _client(proxy: FaultProxy, redis_server: RedisServer, timeout: float = 1.0) -> redis.Redis:
    return redis.Redis.from_url(proxy.url_for(redis_server.url), socket_timeout=timeout)


def test_pass_forwards_both_ways(proxy: FaultProxy, redis_server: RedisServer) -> None:
    client = _client(proxy, redis_server)
    client.set("proxy:pass", "through")
    assert redis_server.client().get("proxy:pass") == b"through"
    assert proxy.status()["bytes_forwarded"] > 0


def test_partition_holds_traffic_and_delivers_it_on_heal(proxy: FaultProxy,
                                                          redis_server: RedisServer) -> None:
    client = _client(proxy, redis_server, timeout=30)
    client.ping()
    proxy.partition()
    written = threading.Event()
    writer = threading.Thread(target=lambda: (client.set("proxy:held", "late"), written.set()))
    writer.start()
    wait_until(lambda: proxy.status()["bytes_forwarded"] > 0, timeout=5)
    assert not written.wait(0.5)  # the command is held by the partition, not lost
    assert redis_server.client().get("proxy:held") is None
    proxy.heal()
    writer.join(10)
    assert written.is_set()
    assert redis_server.client().get("proxy:held") == b"late"


def test_partition_times_out_a_client(proxy: FaultProxy, redis_server: RedisServer) -> None:
    client = _client(proxy, redis_server, timeout=0.5)
    client.ping()
    proxy.partition()
    with pytest.raises(redis.TimeoutError):
        client.ping()
    proxy.heal()
    assert client.ping()


def test_cut_resets_connections_and_refuses_new_ones(proxy: FaultProxy,
                                                     redis_server: RedisServer) -> None:
    client = _client(proxy, redis_server)
    client.ping()
    proxy.cut()
    with pytest.raises(redis.ConnectionError):
        client.ping()
    with pytest.raises(redis.ConnectionError):
        _client(proxy, redis_server).ping()
    assert proxy.status()["resets"] >= 2
    proxy.heal()
    assert client.ping()


def test_drop_discards_bytes_and_resets_damaged_streams_on_heal(proxy: FaultProxy,
                                                                redis_server: RedisServer) -> None:
    client = _client(proxy, redis_server, timeout=0.5)
    client.ping()
    proxy.drop()
    with pytest.raises(redis.TimeoutError):
        client.set("proxy:dropped", "never")
    assert proxy.status()["bytes_dropped"] > 0
    proxy.heal()
    assert client.ping()
    assert redis_server.client().get("proxy:dropped") is None


def test_delay_adds_latency_in_order(proxy: FaultProxy, redis_server: RedisServer) -> None:
    client = _client(proxy, redis_server, timeout=5)
    client.ping()
    proxy.delay(0.3)
    began = time.monotonic()
    pipe = client.pipeline(transaction=False)
    for index in range(20):
        pipe.rpush("proxy:ordered", index)
    pipe.execute()
    assert time.monotonic() - began >= 0.3
    assert [int(v) for v in redis_server.client().lrange("proxy:ordered", 0, -1)] == list(range(20))


def test_listens_on_loopback_only(redis_server: RedisServer) -> None:
    with pytest.raises(ValueError, match="loopback only"):
        FaultProxy("127.0.0.1", redis_server.port, listen_host="0.0.0.0")


def test_control_protocol(proxy: FaultProxy) -> None:
    control = ProxyControl(proxy).start()
    assert send_control("127.0.0.1", control.port, "delay 0.1")["mode"] == "delay"
    assert proxy.delay_seconds == 0.1
    assert send_control("127.0.0.1", control.port, "heal")["mode"] == "pass"
    assert "error" in send_control("127.0.0.1", control.port, "sideways")


def test_rl_proxy_run_and_set(redis_server: RedisServer) -> None:
    listen, control = free_port(), free_port()
    env = {**os.environ, "RELIER_REDIS_URL": redis_server.url}
    server = subprocess.Popen(
        [sys.executable, "-m", "relier.cli", "proxy", "run", "--upstream", f"127.0.0.1:{redis_server.port}",
         "--listen", f"127.0.0.1:{listen}", "--control", f"127.0.0.1:{control}"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        client = redis.Redis(host="127.0.0.1", port=listen, socket_timeout=1)

        def answers() -> bool:
            try:
                return bool(client.ping())
            except redis.RedisError:
                return False

        wait_until(answers, timeout=30)
        result = subprocess.run(
            [sys.executable, "-m", "relier.cli", "proxy", "set", "cut", "--control", f"127.0.0.1:{control}"],
            env=env, capture_output=True, text=True, timeout=30, check=False)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["mode"] == "cut"
        with pytest.raises(redis.ConnectionError):
            client.ping()
        bad = subprocess.run(
            [sys.executable, "-m", "relier.cli", "proxy", "set", "delay",
             "--control", f"127.0.0.1:{control}"],
            env=env, capture_output=True, text=True, timeout=30, check=False)
        assert bad.returncode == 2
        assert bad.stderr.count("\n") == 1
        assert "delay needs SECONDS" in bad.stderr
    finally:
        server.terminate()
        server.wait(10)
