"""relier/demo.py and the demo's command (relier/cli/dev.py), without servers: refusals and
Redis errors are counted and the traffic goes on, deaths are told, the run starts clean."""

from __future__ import annotations

import importlib
import signal
import subprocess
import sys
import threading
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import click
import pytest
import redis

from relier import AdmissionRejectedError
from relier.cli import cli
from relier.cli.dev import CONSOLE_ACTIONS, CONSOLE_KEYS, _claim, _reset, next_steps


def _demo() -> ModuleType:
    """`relier.demo`, imported by the test that needs it, never at collection: it declares its
    tasks on relier's ready app, which binds to the settings of the moment, and the
    integration tests' own server must decide those."""
    return importlib.import_module("relier.demo")


class FakeTask:
    """A task whose push is refused by admission, fails for want of Redis, or is admitted."""

    def __init__(self, queue: str, outcome: str) -> None:
        self.spec = SimpleNamespace(queue=queue)
        self.outcome = outcome

    def push(self, *args: Any) -> object:
        if self.outcome == "refused":
            raise AdmissionRejectedError("demo.resize_image", "queue", "rate", 0.5)
        if self.outcome == "unreachable":
            raise redis.ConnectionError("Connection refused")
        return SimpleNamespace(id="t")


def test_refused_pushes_are_counted_and_the_traffic_goes_on(monkeypatch: pytest.MonkeyPatch) -> None:
    tasks = [FakeTask("high_priority", "admitted"), FakeTask("default", "refused")]
    monkeypatch.setattr(_demo(), "demo_call", lambda number: (tasks[number % 2], ()))
    traffic = _demo().Traffic(rate=1000)
    reports: list[str] = []
    traffic.run(None, reports.append, lambda: traffic.offered >= 40)
    assert traffic.offered == 40
    assert traffic.pushed == 20
    assert traffic.rejected == {"default": 20}
    notices = [line for line in reports if line.startswith("admission refused")]
    assert notices == ["admission refused a demo.resize_image push on queue default (queue rate "
                       "limit, retry after 0.50 s): the demo counts refusals and goes on"]
    traffic.pending.clear()  # the fake handles have no record to tally
    assert traffic.status().endswith("rejected   20 (default 20)")


def test_pushes_without_redis_are_counted_and_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_demo(), "demo_call", lambda number: (FakeTask("default", "unreachable"), ()))
    monkeypatch.setattr(_demo(), "PUSH_ERROR_BACKOFF", 0.0)
    traffic = _demo().Traffic(rate=1000)
    reports: list[str] = []
    traffic.run(None, reports.append, lambda: traffic.offered >= 5)
    assert traffic.push_errors == 5
    assert reports == ["a push failed (ConnectionError: Connection refused); retrying"]
    assert "push errors 5 (last: ConnectionError: Connection refused)" in traffic.status()


class QuietWatch:
    is_server_down = False

    def news(self) -> list[str]:
        return []


def test_a_dying_traffic_thread_is_told_with_its_traceback() -> None:
    class CrashingTraffic(_demo().Traffic):  # type: ignore[misc,name-defined]
        def run(self, *args: Any, **kwargs: Any) -> None:
            raise RuntimeError("the traffic broke")

    stop = threading.Event()
    said: list[str] = []
    pushing = _demo().TrafficThread(CrashingTraffic(), None, stop, said.append, said.append)
    pushing.start()
    status = _demo().supervise(pushing, QuietWatch(), stop, said.append,  # type: ignore[arg-type]
                       until_traffic_ends=True)
    assert status == 1
    assert said[-1].startswith("the demo traffic stopped on an error (the workers go on):")
    assert "RuntimeError: the traffic broke" in said[-1]


def python(code: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", code])


def test_each_exit_is_told_once_and_the_servers_ends_the_demo(tmp_path: Path) -> None:
    killed = python("import os, signal; os.kill(os.getpid(), signal.SIGKILL)")
    alive = python("import time; time.sleep(120)")
    server = python("import time; time.sleep(120)")
    resurrector = python("raise SystemExit(3)")
    try:
        killed.wait(30)
        resurrector.wait(30)
        workers = [SimpleNamespace(process=killed, pid=killed.pid, log_path=tmp_path / "worker1.log"),
                   SimpleNamespace(process=alive, pid=alive.pid, log_path=tmp_path / "worker2.log")]
        watch = _demo().ProcessWatch(SimpleNamespace(process=server, log_tail=lambda lines=20: "bye"),
                                     workers, resurrector)
        news = watch.news()
        assert news[0].startswith(f"worker demo1 (pid {killed.pid}) exited (killed by SIGKILL); "
                                  "1 worker(s) left")
        assert news[1] == ("the resurrector exited (exit status 3): tasks of dead workers are no "
                           "longer re-queued")
        assert watch.news() == []
        assert not watch.is_server_down

        server.kill()
        server.wait(30)
        alive.kill()
        alive.wait(30)
        news = watch.news()
        assert news[0] == "the demo server exited (killed by SIGKILL); the demo stops. Its log ends:\nbye"
        assert "no demo worker is left" in news[-1]
        assert watch.is_server_down
    finally:
        for process in (alive, server):
            if process.poll() is None:
                process.kill()
                process.wait(30)


def test_exit_text() -> None:
    assert _demo().exit_text(0) == "exit status 0"
    assert _demo().exit_text(-signal.SIGTERM) == "killed by SIGTERM"
    assert _demo().exit_text(-99) == "exit status -99"


def test_a_run_starts_clean_unless_keep(tmp_path: Path) -> None:
    (tmp_path / "server" / "appendonlydir").mkdir(parents=True)
    (tmp_path / "server" / "server.log").write_text("last run")
    (tmp_path / "worker1.log").write_text("last run's worker")

    _reset(tmp_path, keep=True)
    assert (tmp_path / "server" / "appendonlydir").is_dir()
    assert (tmp_path / "worker1.log.1").read_text() == "last run's worker"
    assert not (tmp_path / "worker1.log").exists()

    _reset(tmp_path, keep=False)
    assert not (tmp_path / "server").exists()


def test_a_folder_that_is_not_a_demo_servers_is_never_deleted(tmp_path: Path) -> None:
    (tmp_path / "server").mkdir()
    (tmp_path / "server" / "precious.txt").write_text("keep me")
    with pytest.raises(click.ClickException, match="does not look like a demo server's data"):
        _reset(tmp_path, keep=False)
    assert (tmp_path / "server" / "precious.txt").read_text() == "keep me"


def test_two_demos_never_share_a_folder(tmp_path: Path) -> None:
    lock = _claim(tmp_path)
    try:
        with pytest.raises(click.ClickException, match="another rl demo is running"):
            _claim(tmp_path)
    finally:
        lock.close()
    _claim(tmp_path).close()


def test_next_steps_fit_80_columns_and_name_real_commands() -> None:
    text = next_steps("redis://127.0.0.1:6399/0", Path("/tmp/demo"), [4242], in_console=False)
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "export RELIER_REDIS_URL=redis://127.0.0.1:6399/0" in text
    assert "kill -9 4242" in text
    commands = [line.split()[1:] for line in text.splitlines() if line.startswith("  rl ")]
    assert len(commands) >= 8
    for words in commands:
        command: click.Command = cli
        for word in words:
            if not isinstance(command, click.Group) or word not in command.commands:
                break
            command = command.commands[word]
        assert command is not cli, words
        options = [word.split("=")[0] for word in words if word.startswith("--")]
        names = {name for param in command.params for name in getattr(param, "opts", [])}
        assert set(options) <= names, (words, names)


def test_the_console_keys_named_are_the_consoles() -> None:
    from relier_tui.app import PANES, RelierConsole

    bound: dict[str, str] = {}
    owners: list[type] = [RelierConsole, *PANES.values()]
    for owner in owners:
        for cls in owner.__mro__:
            for binding in getattr(cls, "BINDINGS", []):
                for key in binding.key.split(","):
                    bound.setdefault(key.strip(), binding.action)
    for key, title in CONSOLE_KEYS:
        pane_id = bound[key].removeprefix("show('").removesuffix("')")
        assert title.lower() in PANES[pane_id].TITLE.lower(), (key, title)
    names = {"/": "slash", "?": "question_mark"}
    for key, _ in CONSOLE_ACTIONS:
        assert names.get(key, key) in bound, key
