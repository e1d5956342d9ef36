"""`rl demo` as an operator runs it: its traffic outlives admission refusals, each run starts
from a clean state unless --keep, a death (worker, server) is told and never hangs it, and the
console demo ends by itself."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pty
import re
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from relier.keys import Keys
from relier.testing import wait_until

KEYS = Keys()
STATUS = re.compile(r"pushed +(\d+) +completed +(\d+) +dead-lettered +(\d+) +inflight +(\d+) "
                    r"+rejected +(\d+)")


class Demo:
    """``rl demo --no-console`` in its own process, its output collected line by line."""

    def __init__(self, directory: Path, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "relier.cli", "demo", "--no-console", "--dir", str(directory), *args],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, found: Callable[[], object], timeout: float, what: str) -> None:
        def settled() -> object:
            value = found()
            if not value and self.process.poll() is not None and not self.reader.is_alive():
                raise AssertionError(f"rl demo exited ({self.process.returncode}) while waiting for "
                                     f"{what}:\n{self.output()}")
            return value

        wait_until(settled, timeout=timeout, interval=0.1,
                   message=lambda: f"{what}; rl demo said:\n{self.output()}")

    def line_starting(self, prefix: str) -> str | None:
        return next((line for line in self.lines if line.startswith(prefix)), None)

    @property
    def url(self) -> str:
        self.wait_for(lambda: self.line_starting("demo server: "), 60, "the demo server")
        line = self.line_starting("demo server: ")
        assert line is not None
        match = re.search(r"redis://\S+", line)
        assert match is not None
        return match.group(0)

    def statuses(self) -> list[tuple[int, ...]]:
        """(pushed, completed, dead-lettered, inflight, rejected) of every status line so far."""
        return [tuple(int(n) for n in match.groups())
                for line in list(self.lines) if (match := STATUS.match(line))]

    def stop(self, timeout: float = 90) -> int:
        """Ctrl-C, then the exit status once the demo has cleaned up."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        code = self.process.wait(timeout)
        self.close()
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.close()

    def close(self) -> None:
        self.reader.join(10)
        if self.process.stdout is not None:
            self.process.stdout.close()


@pytest.fixture
def demos() -> Iterator[list[Demo]]:
    """Demos a test started; any still running at its end is stopped."""
    started: list[Demo] = []
    yield started
    for demo in started:
        try:
            demo.stop(timeout=60)
        except subprocess.TimeoutExpired:
            demo.kill()


def rl(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "relier.cli", *args], capture_output=True, text=True,
                          timeout=60, check=False, env={**os.environ, "RELIER_REDIS_URL": url})


def test_admission_refusals_are_counted_and_the_traffic_goes_on(tmp_path: Path,
                                                                  demos: list[Demo]) -> None:
    demo = Demo(tmp_path, "--rate", "12")
    demos.append(demo)
    url = demo.url
    demo.wait_for(demo.statuses, 120, "a status line")

    limited = rl(url, "admission", "set", "default", "--rate", "0.5", "--burst", "1")
    assert limited.returncode == 0, limited.stdout + limited.stderr
    demo.wait_for(lambda: any(status[4] >= 3 for status in demo.statuses()), 60,
                  "three refused pushes counted")
    pushed, rejected = demo.statuses()[-1][0], demo.statuses()[-1][4]
    demo.wait_for(lambda: demo.statuses()[-1][0] >= pushed + 10 and demo.statuses()[-1][4] > rejected,
                  60, "pushes admitted and refused after the first refusals")
    assert demo.line_starting("admission refused a demo.resize_image push on queue default") is not None
    # every refusal counted is one the server recorded (and told the console about)
    counted = demo.statuses()[-1][4]
    assert 3 <= counted <= len(refusals_recorded(url, "default"))

    assert demo.stop() == 0, demo.output()
    final = demo.line_starting("final: ")
    assert final is not None, demo.output()
    assert re.search(r"rejected +\d+ \(default \d+\)$", final), final
    assert "Traceback" not in demo.output()


def refusals_recorded(url: str, queue: str) -> list[dict[bytes, bytes]]:
    """The admission_rejected events of `queue` in the server's event stream."""
    client = redis.Redis.from_url(url)
    try:
        entries = client.xrange(KEYS.events)
    finally:
        client.close()
    return [fields for _, fields in entries
            if fields.get(b"type") == b"admission_rejected" and fields.get(b"queue") == queue.encode()]


def dead_letter_score(url: str, task_id: str) -> float | None:
    client = redis.Redis.from_url(url)
    try:
        return client.zscore(KEYS.dead_letters, task_id)
    finally:
        client.close()


def test_each_run_starts_clean_unless_keep(tmp_path: Path, demos: list[Demo]) -> None:
    first = Demo(tmp_path, "--rate", "2")
    demos.append(first)
    url = first.url
    first.wait_for(lambda: first.line_starting("workers ready"), 120, "the workers")
    pushed = rl(url, "push", "demo.resize_image", "--args", "[1]")  # fails: no retries
    assert pushed.returncode == 0, pushed.stdout + pushed.stderr
    task_id = pushed.stdout.strip().split()[-1]
    wait_until(lambda: dead_letter_score(url, task_id), timeout=60,
               message=f"{task_id} never reached the dead letters")
    assert first.stop() == 0, first.output()

    began_ms = time.time() * 1000
    kept = Demo(tmp_path, "--keep")
    demos.append(kept)
    url = kept.url
    assert "kept the last run's data" in (kept.line_starting("demo server: ") or "")
    listed = rl(url, "dlq", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert task_id in {entry["id"] for entry in json.loads(listed.stdout)["entries"]}
    score = dead_letter_score(url, task_id)
    assert score is not None
    assert score < began_ms  # the last run's, not one made again
    assert kept.stop() == 0, kept.output()

    began_ms = time.time() * 1000
    fresh = Demo(tmp_path)
    demos.append(fresh)
    url = fresh.url
    assert "a clean state" in (fresh.line_starting("demo server: ") or "")
    client = redis.Redis.from_url(url)
    try:
        assert client.zrangebyscore(KEYS.dead_letters, "-inf", began_ms) == []
        assert not client.exists(KEYS.record(task_id))
    finally:
        client.close()
    assert fresh.stop() == 0, fresh.output()


def test_a_dead_worker_and_a_dead_server_are_reported_never_silent(tmp_path: Path,
                                                                    demos: list[Demo]) -> None:
    demo = Demo(tmp_path, "--rate", "8")
    demos.append(demo)
    url = demo.url
    demo.wait_for(lambda: demo.line_starting("workers ready"), 120, "the workers")
    ready = demo.line_starting("workers ready") or ""
    pid = int(re.findall(r"demo1 \(pid (\d+)\)", ready)[0])

    os.kill(pid, signal.SIGKILL)
    demo.wait_for(lambda: demo.line_starting(f"worker demo1 (pid {pid}) exited (killed by SIGKILL); "
                                             "1 worker(s) left"), 30, "the worker's death reported")
    demo.wait_for(demo.statuses, 30, "a status line")
    after = demo.statuses()[-1]
    demo.wait_for(lambda: demo.statuses()[-1][1] >= after[1] + 10, 60,
                  "demo2 completing tasks after demo1 died")

    client = redis.Redis.from_url(url)
    with contextlib.suppress(redis.ConnectionError):  # the server may hang up as it goes
        client.shutdown(nosave=True)
    client.close()
    demo.wait_for(lambda: demo.process.poll() is not None, 120, "the demo ending with its server")
    demo.close()
    assert demo.process.returncode == 1, demo.output()
    assert demo.line_starting("the demo server exited") is not None, demo.output()
    with pytest.raises(ProcessLookupError):  # the dead worker's pool went with the demo
        os.killpg(pid, 0)


def test_the_console_demo_ends_by_itself_and_prints_its_tally(tmp_path: Path) -> None:
    """The default `python3 dev.py demo`: the console in a terminal, closed at --duration."""
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    process = subprocess.Popen(
        [sys.executable, "-m", "relier.cli", "demo", "--duration", "4", "--dir", str(tmp_path)],
        stdin=terminal, stdout=terminal, stderr=terminal, env={**os.environ, "TERM": "xterm-256color"},
    )
    os.close(terminal)
    chunks: list[bytes] = []

    def drain() -> None:  # the console blocks when nobody reads its terminal
        with contextlib.suppress(OSError):
            while chunk := os.read(controller, 65536):
                chunks.append(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        process.wait(180)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        reader.join(10)
        os.close(controller)
    output = b"".join(chunks).decode(errors="replace")
    assert process.returncode == 0, output[-3000:]
    assert "What to try next" in output
    assert re.search(r"final: pushed +[1-9]", output), output[-3000:]
    assert (tmp_path / "traffic.log").read_text().count("pushed") >= 2
