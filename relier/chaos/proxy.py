"""A loopback TCP fault proxy: point workers at it instead of Redis, then cut, partition, delay
or drop their traffic. The chaos scenarios drive it in-process; `rl proxy run` serves it for
staging, steered with `rl proxy set MODE` over a loopback control port.

Modes, each a network fault a Redis client really meets:

- ``pass``: bytes flow both ways.
- ``delay``: every chunk is held for a fixed time, order kept (a slow or distant link).
- ``partition``: nothing flows and new connections wait unanswered; what was sent is held and
  delivered when the partition heals, as TCP retransmission would. Clients see timeouts.
- ``drop``: bytes are discarded and new connections wait; a stream with a hole in it cannot go
  on, so the connections that lost bytes are reset when the link heals.
- ``cut``: every connection is reset now and new ones are refused until the link heals.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

CHUNK = 65536


class FaultMode(StrEnum):
    PASS = "pass"  # noqa: S105 - a mode name, not a password
    DELAY = "delay"
    PARTITION = "partition"
    DROP = "drop"
    CUT = "cut"


def require_loopback(host: str) -> str:
    """`host` if it is a loopback address; the proxy never listens anywhere else."""
    try:
        address = ipaddress.ip_address(socket.gethostbyname(host))
    except (OSError, ValueError):
        raise ValueError(f"{host!r} is not a loopback address") from None
    if not address.is_loopback:
        raise ValueError(f"{host!r} is not a loopback address; the fault proxy listens on loopback only")
    return host


@dataclass
class ProxyStats:
    connections: int = 0
    open: int = 0
    bytes_forwarded: int = 0
    bytes_dropped: int = 0
    resets: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"connections": self.connections, "open": self.open,
                "bytes_forwarded": self.bytes_forwarded, "bytes_dropped": self.bytes_dropped,
                "resets": self.resets}


@dataclass(eq=False)
class _Link:
    """One client connection and its upstream connection."""

    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter | None = None
    damaged: bool = False
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def reset(self) -> None:
        for writer in (self.client, self.upstream):
            if writer is not None:
                writer.transport.abort()
        for task in self.tasks:
            task.cancel()


class FaultProxy:
    """Forward a loopback port to `upstream`, with faults switched on and off at run time.

    Runs its own event loop in a daemon thread; every method is safe from any thread.
    """

    def __init__(self, upstream_host: str, upstream_port: int, *, listen_host: str = "127.0.0.1",
                 listen_port: int = 0) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.listen_host = require_loopback(listen_host)
        self.port = listen_port
        self.mode = FaultMode.PASS
        self.delay_seconds = 0.0
        self.stats = ProxyStats()
        self._links: set[_Link] = set()
        self._loop = asyncio.new_event_loop()
        self._healed = asyncio.Event()
        self._servers: list[asyncio.Server] = []
        self._thread = threading.Thread(target=self._loop.run_forever, name="relier-fault-proxy",
                                        daemon=True)

    def start(self) -> FaultProxy:
        self._thread.start()
        self._call(self._serve)
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self._call(self._shutdown)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        if not self._loop.is_running() and not self._loop.is_closed():
            self._loop.close()

    def url_for(self, redis_url: str) -> str:
        """`redis_url` with its host and port replaced by this proxy's."""
        from urllib.parse import urlsplit, urlunsplit  # noqa: PLC0415 - only URL rewriting needs it

        parts = urlsplit(redis_url)
        auth = parts.netloc.rpartition("@")[0]
        netloc = f"{auth}@" if auth else ""
        return urlunsplit(parts._replace(netloc=f"{netloc}{self.listen_host}:{self.port}"))

    def set_mode(self, mode: FaultMode | str, delay: float = 0.0) -> None:
        """Switch the fault; `delay` (seconds) applies to ``delay`` mode."""
        self._call(self._switch, FaultMode(mode), delay)

    def cut(self) -> None:
        self.set_mode(FaultMode.CUT)

    def partition(self) -> None:
        self.set_mode(FaultMode.PARTITION)

    def drop(self) -> None:
        self.set_mode(FaultMode.DROP)

    def delay(self, seconds: float) -> None:
        self.set_mode(FaultMode.DELAY, seconds)

    def heal(self) -> None:
        self.set_mode(FaultMode.PASS)

    def status(self) -> dict[str, Any]:
        return {"mode": str(self.mode), "delay_s": self.delay_seconds,
                "listen": f"{self.listen_host}:{self.port}",
                "upstream": f"{self.upstream[0]}:{self.upstream[1]}", **self.stats.as_dict()}

    def _call(self, function: Any, *args: Any) -> Any:
        async def run() -> Any:
            return await function(*args)

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(15)

    async def _serve(self) -> None:
        self._healed.set()
        server = await asyncio.start_server(self._accept, self.listen_host, self.port)
        self._servers.append(server)
        self.port = server.sockets[0].getsockname()[1]

    async def _shutdown(self) -> None:
        for server in self._servers:
            server.close()
        for link in list(self._links):
            link.reset()
        pending = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    async def _switch(self, mode: FaultMode, delay: float) -> None:
        previous, self.mode, self.delay_seconds = self.mode, mode, max(0.0, delay)
        if mode in (FaultMode.PASS, FaultMode.DELAY):
            if previous == FaultMode.DROP:
                for link in [link for link in self._links if link.damaged]:
                    self._reset(link)
            self._healed.set()
            return
        self._healed.clear()
        if mode == FaultMode.CUT:
            for link in list(self._links):
                self._reset(link)

    def _reset(self, link: _Link) -> None:
        if link in self._links:
            self._links.discard(link)
            self.stats.resets += 1
            self.stats.open -= 1
            link.reset()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await self._forward(reader, writer)
        except asyncio.CancelledError:
            # the proxy is stopping; finishing normally keeps asyncio's stream callback quiet
            writer.transport.abort()

    async def _forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.mode == FaultMode.CUT:
            self.stats.resets += 1
            writer.transport.abort()
            return
        link = _Link(writer)
        self._links.add(link)
        self.stats.connections += 1
        self.stats.open += 1
        try:
            await self._healed.wait()  # a partition leaves the handshake unanswered
            up_reader, link.upstream = await asyncio.open_connection(*self.upstream)
        except (OSError, asyncio.CancelledError):
            self._reset(link)
            return
        link.tasks = [asyncio.create_task(self._pump(link, reader, link.upstream)),
                      asyncio.create_task(self._pump(link, up_reader, writer))]
        await asyncio.gather(*link.tasks, return_exceptions=True)
        self._reset(link)

    async def _pump(self, link: _Link, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue()
        sender = asyncio.create_task(self._send(held, writer))
        try:
            while data := await reader.read(CHUNK):
                if self.mode == FaultMode.DROP:
                    link.damaged = True
                    self.stats.bytes_dropped += len(data)
                    continue
                delay = self.delay_seconds if self.mode == FaultMode.DELAY else 0.0
                held.put_nowait((time.monotonic() + delay, data))
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            held.put_nowait(None)
            with contextlib.suppress(Exception):
                await sender
            link.reset()

    async def _send(self, held: asyncio.Queue[tuple[float, bytes] | None],
                    writer: asyncio.StreamWriter) -> None:
        while (item := await held.get()) is not None:
            due, data = item
            await self._healed.wait()
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()
            self.stats.bytes_forwarded += len(data)


class ProxyControl:
    """A loopback line protocol that steers a `FaultProxy` from another process.

    Each request is one line: ``pass``, ``delay SECONDS``, ``partition``, ``drop``, ``cut``,
    ``heal`` or ``status``; each reply is one JSON line with the proxy's status or an error.
    """

    def __init__(self, proxy: FaultProxy, host: str = "127.0.0.1", port: int = 0) -> None:
        self.proxy = proxy
        self.host = require_loopback(host)
        self.port = port

    def start(self) -> ProxyControl:
        async def serve() -> None:
            server = await asyncio.start_server(self._handle, self.host, self.port)
            self.proxy._servers.append(server)  # closed with the proxy
            self.port = server.sockets[0].getsockname()[1]

        asyncio.run_coroutine_threadsafe(serve(), self.proxy._loop).result(15)
        return self

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                reply = await self._apply(line.decode(errors="replace").split())
                writer.write(json.dumps(reply).encode() + b"\n")
                await writer.drain()
        finally:
            writer.transport.abort()

    async def _apply(self, words: list[str]) -> dict[str, Any]:
        command, *rest = words or [""]
        if command == "heal":
            command = "pass"
        if command != "status":
            try:
                mode = FaultMode(command)
                delay = float(rest[0]) if mode == FaultMode.DELAY else 0.0
            except (ValueError, IndexError):
                return {"error": f"unknown command {' '.join(words)!r}; use pass, delay SECONDS, "
                                 "partition, drop, cut, heal or status"}
            await self.proxy._switch(mode, delay)  # the control runs on the proxy's own loop
        return self.proxy.status()


def send_control(host: str, port: int, command: str, timeout: float = 5.0) -> dict[str, Any]:
    """Send one command to a running `ProxyControl` and return its JSON reply."""
    with socket.create_connection((require_loopback(host), port), timeout=timeout) as sock:
        sock.sendall(command.encode() + b"\n")
        reply = b""
        while not reply.endswith(b"\n"):
            chunk = sock.recv(4096)
            if not chunk:
                break
            reply += chunk
    result: dict[str, Any] = json.loads(reply)
    return result
