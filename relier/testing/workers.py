"""Celery worker processes for tests, each in its own session, logging to a file."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

from relier.devserver import free_port, wait_until
from relier.testing.processes import stop_process


class CeleryWorker:
    """A ``celery worker`` process in its own session, logging to a file."""

    def __init__(
        self,
        app: str,
        *,
        redis_url: str,
        log_path: Path,
        queues: Iterable[str] = ("default",),
        concurrency: int = 2,
        pool: str = "prefork",
        hostname: str | None = None,
        include: Iterable[str] = (),
        env: Mapping[str, str] | None = None,
        pythonpath: Iterable[str] = (),
    ) -> None:
        self.log_path = Path(log_path)
        self.hostname = hostname or f"w{free_port()}@{socket.gethostname()}"
        self.args = [
            sys.executable, "-m", "celery", "-A", app, "worker",
            "-l", "info", "-P", pool, "-c", str(concurrency),
            "-Q", ",".join(queues), "-n", self.hostname,
            "--without-heartbeat", "--without-mingle", "--without-gossip",
        ]
        includes = list(include)
        if includes:
            self.args.append(f"--include={','.join(includes)}")
        self.env = {**os.environ, **(env or {}), "RELIER_REDIS_URL": redis_url}
        extra_path = [str(path) for path in pythonpath]
        if extra_path:
            existing = self.env.get("PYTHONPATH", "")
            self.env["PYTHONPATH"] = os.pathsep.join([*extra_path, existing] if existing else extra_path)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError("worker not started")
        return self.process.pid

    def start(self) -> CeleryWorker:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.args, stdout=log, stderr=subprocess.STDOUT, env=self.env,
                start_new_session=True,
            )
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_ready(self, timeout: float = 60.0) -> CeleryWorker:
        def ready() -> bool:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"worker exited with {self.process.returncode}:\n{self.log()[-3000:]}")
            return " ready." in self.log()

        wait_until(ready, timeout=timeout, interval=0.05,
                   message=lambda: f"worker not ready:\n{self.log()[-3000:]}")
        return self

    def wait_exit(self, timeout: float = 30.0) -> int:
        if self.process is None:
            raise RuntimeError("worker not started")
        return self.process.wait(timeout)

    def stop(self, timeout: float = 30.0) -> None:
        """Warm shutdown (SIGTERM), then SIGKILL of the whole process group at the deadline."""
        if self.process is not None:
            stop_process(self.process, timeout, kill=self.kill)

    def kill(self) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)
