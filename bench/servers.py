"""Redis-compatible servers started for a benchmark run, and the machine they run on."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import redis

from bench.result_files import machine_info
from relier.testing import RedisServer

T = TypeVar("T")


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


def rotating_arms(name: str, arms: list[str], rounds: int, binary: Path,
                  measure: Callable[[str, int, str, Path], T]) -> tuple[dict[str, Any], list[T]]:
    """`measure` (arm, round, server URL, a directory of its own) each arm once per round, in
    an order rotated every round, each on a fresh server; returns the machine and the results."""
    machine: dict[str, Any] = {}
    results: list[T] = []
    with tempfile.TemporaryDirectory(prefix=f"relier-bench-{name}-") as tmp:
        for round_index in range(rounds):
            shift = round_index % len(arms)
            for arm in arms[shift:] + arms[:shift]:
                directory = Path(tmp) / f"{arm}-{round_index}"
                with running_server(directory / "server", binary) as server:
                    machine = machine or probe_machine(server, binary)
                    results.append(measure(arm, round_index, server.url, directory))
    return machine, results
