"""Client round trips every client makes, counted from the server's ``MONITOR`` stream.

`Monitoring` opens a dedicated connection, sends ``MONITOR`` and reads the stream on a thread;
a second connection of its own writes markers (``ECHO``) that bound a window. `count` turns the
lines between two markers into round trips:

- a line tagged ``[<db> lua]`` is a command a Lua script ran: not a round trip (the script's
  ``EVALSHA`` line, from its client, is one);
- ``MULTI`` ... ``EXEC`` (or ``DISCARD``) of one client is one round trip, however many
  commands it holds (clients send a transaction in one write);
- every other line of a client is one round trip (a pipeline of plain commands cannot be told
  apart from separate requests here: each of its commands counts);
- the marker connection's lines are left out (the monitoring connection sends nothing after
  ``MONITOR``).

Redis (7.0) shows a transaction as ``MULTI``, its commands, then ``EXEC``, and leaves admin
commands (``CONFIG``, ``DEBUG``...) out of the stream: requests of that kind are not counted.
Everything but `Monitoring` is pure.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from types import TracebackType

import redis

#: ``1339518083.107412 [0 127.0.0.1:60866] "keys" "*"``, ``[0 lua]``, ``[0 unix:/path]``.
_LINE = re.compile(r'^(?P<at>\d+\.\d+) \[(?P<db>\d+) (?P<source>[^\]]+)\] '
                   r'"(?P<command>(?:[^"\\]|\\.)*)"(?: "(?P<argument>(?:[^"\\]|\\.)*)")?')
#: The source of commands run by scripts.
LUA = "lua"
#: How a transaction block is named among round trips.
TRANSACTION = "multi…exec"
_BLOCK_ENDS = frozenset({"exec", "discard"})


@dataclass(frozen=True, slots=True)
class MonitorLine:
    """One command the server ran: when, from which client (``ip:port``, or ``lua``), its name
    (lower case) and, for an ``ECHO`` (a marker), what it echoed."""

    at: float
    source: str
    command: str
    echoed: str | None = None


def parse_line(raw: bytes | str) -> MonitorLine | None:
    """A ``MONITOR`` line (with or without its leading ``+``), or None for anything else."""
    text = raw.decode(errors="replace") if isinstance(raw, bytes) else raw
    match = _LINE.match(text.removeprefix("+"))
    if match is None:
        return None
    command = match["command"].lower()
    return MonitorLine(at=float(match["at"]), source=match["source"], command=command,
                       echoed=match["argument"] if command == "echo" else None)


@dataclass(frozen=True, slots=True)
class RoundTrips:
    """Round trips by what they sent (a command's name, or `TRANSACTION`), and the commands the
    stream showed: from clients, and run by scripts."""

    by_request: dict[str, int] = field(default_factory=dict)
    client_commands: int = 0
    script_commands: int = 0

    @property
    def total(self) -> int:
        return sum(self.by_request.values())

    @property
    def commands(self) -> int:
        return self.client_commands + self.script_commands


def count(lines: Iterable[MonitorLine], exclude: Iterable[str] = ()) -> RoundTrips:
    """Round trips in `lines` (see the module), the lines of sources in `exclude` left out.

    A transaction still open at the end counts as one.
    """
    skipped = frozenset(exclude)
    requests: Counter[str] = Counter()
    in_block: set[str] = set()
    client_commands = script_commands = 0
    for line in lines:
        if line.source in skipped:
            continue
        if line.source == LUA:
            script_commands += 1
            continue
        client_commands += 1
        if line.source in in_block:
            if line.command in _BLOCK_ENDS:
                in_block.discard(line.source)
                requests[TRANSACTION] += 1
            continue
        if line.command == "multi":
            in_block.add(line.source)
        else:
            requests[line.command] += 1
    requests[TRANSACTION] += len(in_block)
    return RoundTrips(by_request=dict(sorted((k, v) for k, v in requests.items() if v)),
                      client_commands=client_commands, script_commands=script_commands)


def marker_index(lines: Sequence[MonitorLine], source: str, text: str) -> int | None:
    """Where `source` echoed `text` in `lines` (the last time), if it did."""
    for index in range(len(lines) - 1, -1, -1):
        line = lines[index]
        if line.source == source and line.echoed == text:
            return index
    return None


def between(lines: Sequence[MonitorLine], source: str, first: str,
            last: str) -> list[MonitorLine]:
    """The lines after `source`'s ``ECHO first`` and before its ``ECHO last``."""
    start, end = marker_index(lines, source, first), marker_index(lines, source, last)
    if start is None or end is None or end < start:
        raise ValueError(f"markers {first!r} then {last!r} not both in the lines")
    return list(lines[start + 1:end])


class Monitoring:
    """``MONITOR`` on a dedicated connection to `host`:`port`, read on a thread until closed;
    `window` counts the round trips between two markers it writes itself."""

    def __init__(self, host: str, port: int, *, timeout: float = 60.0) -> None:
        self.timeout = timeout
        self._lines: list[MonitorLine] = []
        self._condition = threading.Condition()
        self._closed = False
        self._error: BaseException | None = None
        self._socket = socket.create_connection((host, port), timeout=timeout)
        self._socket.settimeout(None)  # the reader blocks until `close` shuts the socket
        self._socket.sendall(b"MONITOR\r\n")
        self._marker = redis.Redis(host=host, port=port, single_connection_client=True,
                                   socket_timeout=timeout)
        self.marker_source = str(self._marker.client_info()["addr"])
        self._reader = threading.Thread(target=self._read, name="monitor", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        pending = b""
        try:
            while True:
                chunk = self._socket.recv(1 << 16)
                if not chunk:
                    return
                pending += chunk
                *complete, pending = pending.split(b"\r\n")
                parsed = [line for raw in complete if (line := parse_line(raw)) is not None]
                with self._condition:
                    self._lines.extend(parsed)
                    self._condition.notify_all()
        except OSError as error:
            if not self._closed:
                self._error = error
        finally:
            with self._condition:
                self._condition.notify_all()

    def mark(self) -> str:
        """Write a new marker (``ECHO`` from the marker connection) and return its text."""
        text = f"relier-bench-{uuid.uuid4().hex}"
        self._marker.echo(text)
        return text

    def lines_until(self, text: str) -> list[MonitorLine]:
        """Every line kept, once the marker `text` is among them (raises at the deadline)."""
        deadline = time.monotonic() + self.timeout
        with self._condition:
            while marker_index(self._lines, self.marker_source, text) is None:
                if self._error is not None:
                    raise RuntimeError(f"MONITOR connection failed: {self._error}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"marker not seen in MONITOR after {self.timeout:g} s")
                self._condition.wait(left)
            return list(self._lines)

    def window(self, first: str, last: str) -> RoundTrips:
        """Round trips between markers `first` and `last` (both written by `mark`); the lines
        up to `last` are then dropped (a later window starts after it)."""
        lines = self.lines_until(last)
        found = count(between(lines, self.marker_source, first, last),
                      exclude=(self.marker_source,))
        with self._condition:
            del self._lines[:len(lines)]
        return found

    def close(self) -> None:
        self._closed = True
        self._marker.close()
        with contextlib.suppress(OSError):
            self._socket.shutdown(socket.SHUT_RDWR)
        self._socket.close()
        self._reader.join(self.timeout)

    def __enter__(self) -> Monitoring:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

