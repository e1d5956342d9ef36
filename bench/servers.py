"""Redis-compatible servers started for a benchmark run, and the machine they run on."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import redis

from bench.report import machine_info
from relier.testing import RedisServer


@contextlib.contextmanager
def running_server(directory: Path, binary: Path) -> Iterator[RedisServer]:
    """A server keeping its files in `directory` (created if missing), stopped on exit."""
    directory.mkdir(parents=True, exist_ok=True)
    server = RedisServer(directory, binary=binary).start()
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def connected_server(directory: Path, binary: Path) -> Iterator[tuple[RedisServer, redis.Redis]]:
    """`running_server` and a client to it, closed before the server stops."""
    with running_server(directory, binary) as server:
        client = server.client()
        try:
            yield server, client
        finally:
            client.close()


@contextlib.contextmanager
def temporary_connected_server(binary: Path,
                               prefix: str) -> Iterator[tuple[RedisServer, redis.Redis]]:
    """`connected_server` in a temporary directory named with `prefix`, gone on exit."""
    with tempfile.TemporaryDirectory(prefix=prefix) as directory, \
            connected_server(Path(directory), binary) as connected:
        yield connected


def describe_machine(client: redis.Redis, binary: Path) -> dict[str, Any]:
    """`machine_info` for the server `client` talks to."""
    info: dict[str, Any] = client.info("server")
    return machine_info(info, str(binary))


def probe_machine(server: RedisServer, binary: Path) -> dict[str, Any]:
    """`describe_machine` through a client opened and closed for the purpose."""
    client = server.client()
    try:
        return describe_machine(client, binary)
    finally:
        client.close()


@contextlib.contextmanager
def rotating_arm_servers(name: str, arms: list[str], rounds: int,
                         binary: Path) -> Iterator[Iterator[tuple[str, int, RedisServer, Path]]]:
    """Each arm once per round, in an order rotated every round, each on a fresh server in its
    own directory: yields (arm, round, server, directory) while that server runs."""
    with tempfile.TemporaryDirectory(prefix=f"relier-bench-{name}-") as tmp:
        def runs() -> Iterator[tuple[str, int, RedisServer, Path]]:
            for round_index in range(rounds):
                shift = round_index % len(arms)
                for arm in arms[shift:] + arms[:shift]:
                    directory = Path(tmp) / f"{arm}-{round_index}"
                    with running_server(directory / "server", binary) as server:
                        yield arm, round_index, server, directory

        yield runs()
