"""`rl chaos --watch`: a scenario's progress events as lines, styled on a terminal. The verdict is
never printed here: it is the command's last output."""

from __future__ import annotations

import json
import time
from types import TracebackType
from typing import Any

import click


class Progress:
    """A `ProgressCallback` (``report``) that prints events as they come, if watching; a context
    manager so that the command can hold it for the scenario's run."""

    def __init__(self, scenario: str, *, watch: bool, to_stderr: bool = False) -> None:
        self.scenario = scenario
        self.watch = watch
        self.to_stderr = to_stderr
        self.began = time.monotonic()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        return None

    def report(self, event: str, detail: dict[str, Any]) -> None:
        if not self.watch or event == "verdict":
            return
        elapsed = click.style(f"[{time.monotonic() - self.began:6.1f}s]", dim=True)
        text = json.dumps(detail, default=str)  # ASCII only: no escape sequence from the detail
        click.echo(f"{elapsed} {click.style(event, fg='cyan', bold=True)} {text}", err=self.to_stderr)
