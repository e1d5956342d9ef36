"""`rl chaos --watch`: a scenario's progress events, live with rich on a terminal, as plain lines
otherwise. The verdict is never printed here: it is the command's last output."""

from __future__ import annotations

import json
import time
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.status import Status


class Progress:
    """A `ProgressCallback` (``report``) that shows events as they come, if watching."""

    def __init__(self, scenario: str, *, watch: bool, to_stderr: bool = False) -> None:
        self.scenario = scenario
        self.watch = watch
        self.console = Console(stderr=to_stderr, highlight=False)
        self.began = time.monotonic()
        self._status: Status | None = None

    def __enter__(self) -> Progress:
        if self.watch and self.console.is_terminal:
            self._status = self.console.status(f"[bold]{self.scenario}[/]: starting")
            self._status.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if self._status is not None:
            self._status.stop()

    def report(self, event: str, detail: dict[str, Any]) -> None:
        if not self.watch or event == "verdict":
            return
        elapsed = time.monotonic() - self.began
        text = json.dumps(detail, default=str)
        if self._status is None:
            self.console.print(f"[{elapsed:6.1f}s] {event} {text}", markup=False, soft_wrap=True)
            return
        self.console.print(f"[dim]{elapsed:6.1f}s[/] [bold cyan]{event}[/] {text}")
        self._status.update(f"[bold]{self.scenario}[/]: {event} ({elapsed:.0f}s)")
