"""`rl chaos --watch`: a scenario's progress events as lines, styled on a terminal, and between
them a status line every second (the run's probe attempts started and tasks completed), for
``--watch-duration`` seconds or until the verdict. The verdict is never printed here: it is the
command's last output."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

import click
import redis

#: What the status line shows: a small dict read from Redis (`ChaosContext.tally`).
Status = Callable[[], dict[str, Any]]


class Progress:
    """A `ProgressCallback` (``report``) that prints events as they come, if watching; a context
    manager so that the command can hold it for the scenario's run.

    With a `status` callable, a status line is printed every `interval` seconds in which no event
    was printed. With a `duration`, watching stops after that many seconds (one line says so);
    the scenario itself runs on to its verdict.
    """

    def __init__(self, scenario: str, *, watch: bool, to_stderr: bool = False,
                 duration: float | None = None, status: Status | None = None,
                 interval: float = 1.0) -> None:
        self.scenario = scenario
        self.watch = watch
        self.to_stderr = to_stderr
        self.duration = duration
        self.status = status
        self.interval = interval
        self.began = time.monotonic()
        self._lock = threading.Lock()
        self._last_line = self.began
        self._over = False
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def __enter__(self) -> Progress:
        self.began = self._last_line = time.monotonic()
        if self.watch and (self.status is not None or self.duration is not None):
            self._ticker = threading.Thread(target=self._tick, name="rl-chaos-watch", daemon=True)
            self._ticker.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join(5)

    def report(self, event: str, detail: dict[str, Any]) -> None:
        if not self.watch or event == "verdict":
            return
        self._line(event, detail)

    def _line(self, label: str, detail: dict[str, Any], *, colour: str = "cyan") -> None:
        with self._lock:
            if self._over:
                return
            now = time.monotonic()
            self._last_line = now
            elapsed = click.style(f"[{now - self.began:6.1f}s]", dim=True)
            text = json.dumps(detail, default=str)  # ASCII only: no escape sequence from the detail
            click.echo(f"{elapsed} {click.style(label, fg=colour, bold=True)} {text}",
                       err=self.to_stderr)

    def _tick(self) -> None:
        while not self._stop.wait(min(self.interval, 0.25)):
            now = time.monotonic()
            if self.duration is not None and now - self.began >= self.duration:
                self._line("watch-ended", {
                    "after_s": self.duration,
                    "note": "the scenario runs on; its verdict is printed when it ends"},
                    colour="yellow")
                with self._lock:
                    self._over = True
                return
            if self.status is not None and now - self._last_line >= self.interval:
                self._line("status", self._read_status(), colour="blue")

    def _read_status(self) -> dict[str, Any]:
        assert self.status is not None
        try:
            return self.status()
        except redis.RedisError as exc:  # redis-restart takes the server down on purpose
            return {"redis": f"not answering ({type(exc).__name__})"}
