"""A ``celery worker -l info`` log read as it grows: when the worker was ready, when tasks succeeded.

The footprint benchmarks detect completions here rather than in Redis, so that waiting for
them sends the server nothing (``commands`` counts every command the server runs). Celery
stamps each line with the host's wall clock, to the millisecond, in local time.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

_LINE = re.compile(
    r"^\[(?P<stamp>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}): (?P<level>\w+)/(?P<process>[^\]]+)\] "
    r"(?P<message>.*)$")
_SUCCEEDED = re.compile(r"^Task (?P<name>[\w.]+)\[(?P<id>[^\]]+)\] succeeded in ")


@dataclass(frozen=True, slots=True)
class LogEvent:
    """A line that matters: ``ready`` or ``succeeded`` (of `task`), at `at` (epoch seconds)."""

    kind: str
    at: float
    task: str | None = None


def parse_stamp(stamp: str) -> float:
    """Celery's ``2026-11-25 15:46:33,676`` (local time) as epoch seconds."""
    return dt.datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").timestamp()


def parse_line(line: str) -> LogEvent | None:
    """The event a log line records, or None for any other line."""
    match = _LINE.match(line)
    if match is None:
        return None
    message = match["message"]
    if match["process"] == "MainProcess" and message.endswith(" ready."):
        return LogEvent("ready", parse_stamp(match["stamp"]))
    succeeded = _SUCCEEDED.match(message)
    if succeeded is not None:
        return LogEvent("succeeded", parse_stamp(match["stamp"]), succeeded["name"])
    return None


@dataclass(slots=True)
class WorkerLog:
    """A worker's log file, read incrementally by `poll`."""

    path: Path
    ready_at: float | None = None
    successes: list[float] = field(default_factory=list)
    _offset: int = 0
    _partial: str = ""

    def poll(self) -> None:
        """Read what was appended since the last poll (a half-written last line waits)."""
        if not self.path.exists():
            return
        with self.path.open("rb") as log:
            log.seek(self._offset)
            chunk = log.read()
        self._offset += len(chunk)
        lines = (self._partial + chunk.decode(errors="replace")).split("\n")
        self._partial = lines.pop()
        for line in lines:
            event = parse_line(line)
            if event is None:
                continue
            if event.kind == "ready" and self.ready_at is None:
                self.ready_at = event.at
            elif event.kind == "succeeded":
                self.successes.append(event.at)

    def wait_successes(self, count: int, timeout: float, interval: float = 0.01) -> list[float]:
        """Poll until `count` successes in all were logged; raises `TimeoutError` at `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            self.poll()
            if len(self.successes) >= count:
                return self.successes
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{len(self.successes)} of {count} tasks succeeded after "
                                   f"{timeout:g} s ({self.path})")
            time.sleep(interval)
