"""Stopping a process the testing kit started: SIGTERM first, SIGKILL at the deadline."""

from __future__ import annotations

import subprocess
from collections.abc import Callable


def stop_process(process: subprocess.Popen[bytes], timeout: float = 15.0, *,
                 kill: Callable[[], None] | None = None) -> None:
    """SIGTERM `process` and wait up to `timeout` s for it to exit, then SIGKILL it (or call
    `kill`, e.g. to kill its whole process group); returns once it has exited."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        if kill is not None:
            kill()
        else:
            process.kill()
            process.wait(10)
