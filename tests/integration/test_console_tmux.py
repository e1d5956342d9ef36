"""The real `rl tui` in a tmux terminal at 80x24, driven by its keys against a real Redis and
real Celery workers: what a first-time operator does during an incident, asserted on the text
the terminal shows.

The story: a task is stuck on a worker that was SIGKILLed; the operator sees its lease age
pass the lease TTL and the worker turn `dead`, releases a dead letter and sees it run on a new
worker, watches the resurrector recover the stuck task and forget the dead worker, and throttles
a queue from the Admission pane's form."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import pytest
import redis
from celery import Celery

from relier import AdmissionRejectedError, Relier
from relier.admission import LiveLimits, live_limits
from relier.testing import FAST_LEASES, CeleryWorker, RedisServer, stop_process, wait_until
from tests.conftest import start_worker
from tests.support import KEYS, settings_for, start_resurrector

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None,
                                reason="tmux is not installed (apt-get install tmux)")

WIDTH, HEIGHT = 80, 24
LEASE_TTL = float(FAST_LEASES["RELIER_LEASE_TTL"])
#: a duration as a console cell shows it: ``9ms``, ``2.8s``, ``1m05s`` (or ``2.1m``)
DURATION = re.compile(r"(\d+)m(\d\d)s|(\d+(?:\.\d+)?)(ms|s|m)")


@dataclass
class Terminal:
    """A tmux server of its own (its own socket) running one program in an 80x24 window."""

    socket: Path
    session: str = "console"
    #: the environment of the tmux server (and so of the program it runs)
    env: dict[str, str] | None = None
    #: the last few distinct screens read, for the message of a wait that fails
    seen: deque[str] = field(default_factory=lambda: deque(maxlen=3))

    def tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-u", "-f", "/dev/null", "-S", str(self.socket), *args],
                              check=True, capture_output=True, text=True, timeout=10, env=self.env).stdout

    def start(self, command: list[str], env: dict[str, str]) -> None:
        """Run `command` with `env` (the tmux server's environment); after it exits, its pane
        stays, so a crash's traceback can be read."""
        self.env = {name: value for name, value in env.items() if name != "TMUX"}  # not nested
        self.tmux("new-session", "-d", "-s", self.session, "-x", str(WIDTH), "-y", str(HEIGHT),
                  shlex.join(command), ";", "set-option", "-w", "-t", self.session, "remain-on-exit", "on")

    def screen(self) -> str:
        text = self.tmux("capture-pane", "-p", "-t", self.session)
        if not self.seen or self.seen[-1] != text:
            self.seen.append(text)
        return text

    def cursor(self) -> tuple[int, int]:
        """Where the terminal's cursor is (column, line from 0): the console puts it in the
        focused input field."""
        x, y = self.tmux("display-message", "-p", "-t", self.session, "#{cursor_x} #{cursor_y}").split()
        return int(x), int(y)

    def press(self, *keys: str) -> None:
        """tmux key names (``Tab``, ``C-s``, ``Escape``) or single characters."""
        self.tmux("send-keys", "-t", self.session, *keys)

    def type(self, text: str) -> None:
        self.tmux("send-keys", "-t", self.session, "-l", text)

    def close(self) -> None:
        subprocess.run(["tmux", "-S", str(self.socket), "kill-server"], capture_output=True, timeout=10,
                       check=False)

    def wait_for(self, condition: Callable[[str], object], what: str, timeout: float = 30.0) -> str:
        """The screen once `condition(screen)` holds; at the deadline, the error shows the last
        screens read."""
        def holds() -> str | None:
            screen = self.screen()
            return screen if condition(screen) else None

        def failure() -> str:
            screens = "\n---- then ----\n".join(self.seen)
            return f"the console never showed {what}; its last screens:\n{screens}"

        return wait_until(holds, timeout=timeout, interval=0.1, message=failure)

    def show(self, pane_key: str, tab: str) -> str:
        """Press a pane's digit and wait until its tab (`tab`, its label) is the one shown."""
        self.press(pane_key)
        return self.wait_for(lambda screen: active_tab(screen) == tab, f"the {tab} tab active")


def active_tab(screen: str) -> str | None:
    """The label of the tab shown: the one above the highlighted stretch (between ``╸`` and
    ``╺``) of the line under the tab bar."""
    lines = screen.splitlines()
    bar = next((y for y, line in enumerate(lines) if "1 Inflight" in line and "2 Workers" in line), None)
    if bar is None or bar + 1 >= len(lines):
        return None
    underline = lines[bar + 1]
    left, right = underline.find("╸"), underline.find("╺")
    right = len(underline) if right < left else right
    for tab in re.finditer(r"\d (\S+)", lines[bar]):
        if left < (tab.start() + tab.end()) / 2 < right:
            return tab.group(1)
    return None


def _holds_all(line: str, needles: tuple[str, ...], without: tuple[str, ...]) -> bool:
    return all(n in line for n in needles) and not any(n in line for n in without)


def line_with(screen: str, *needles: str, without: tuple[str, ...] = ()) -> str | None:
    """The first line of the screen that contains every needle and none of `without`."""
    return next((line for line in screen.splitlines() if _holds_all(line, needles, without)), None)


def cell(screen: str, header: str, *row: str, without: tuple[str, ...] = ()) -> str | None:
    """The text in the column headed `header` of the first row holding every `row` needle and
    none of `without` (the header line is the nearest line above the row that holds `header`)."""
    lines = screen.splitlines()
    found = next((y for y, line in enumerate(lines) if _holds_all(line, row, without)), None)
    if found is None:
        return None
    head = next((line for line in reversed(lines[:found]) if header in line), None)
    if head is None:
        return None
    column = head.index(header)
    # cells are apart by spaces: the first word ending past the column's start is its cell
    word = next((m for m in re.finditer(r"\S+", lines[found]) if m.end() > column), None)
    return None if word is None else word.group(0)


def seconds(text: str | None) -> float | None:
    """The seconds a console duration stands for (``9ms``, ``2.8s``, ``1m05s``, ``2.1m``);
    infinity for ``none`` (no lease at all), None for anything else."""
    if text == "none":
        return float("inf")
    found = DURATION.fullmatch(text or "")
    if found is None:
        return None
    minutes, rest, number, unit = found.groups()
    if minutes is not None:
        return int(minutes) * 60 + int(rest)
    return float(number) * {"ms": 0.001, "s": 1.0, "m": 60.0}[unit]


def holds(screen: str, pid: str) -> bool:
    """Whether the Inflight row of `tests.hold` names the pool process `pid` as its holder
    (``host/pid``; a long host name may cut it with an ellipsis, which shows nothing)."""
    worker = cell(screen, "worker", "tests.hold") or ""
    return worker.endswith((f"/{pid}", "…"))


def lease_age(screen: str, *row: str) -> float | None:
    """The lease age the row holding `row` shows, in seconds."""
    return seconds(cell(screen, "lease", *row))


FORM_FIELDS = ("name", "rate/s", "burst", "max depth", "Apply (ctrl+s)")
#: text of the Admission form (its fields and its status line), never of the limits table
FORM = ("Apply (ctrl+s)", "applied:")


def fill(terminal: Terminal, form_y: int, form: str, placeholder: str, value: str) -> None:
    """Type `value` into the empty Admission form field showing `placeholder` (the form is
    line `form_y`, `form` its text before typing) once the focus is there: keys typed before a
    Tab took effect would land in the previous field, and the terminal's cursor, which the
    console puts in the focused field, says where the focus is."""
    starts = [form.index(field) for field in FORM_FIELDS]
    index = FORM_FIELDS.index(placeholder)

    def in_field() -> bool:
        x, y = terminal.cursor()
        return y == form_y and starts[index] <= x < starts[index + 1]

    wait_until(in_field, timeout=10,
               message=lambda: f"the focus never reached the {placeholder} field (cursor at "
                               f"{terminal.cursor()}):\n{terminal.screen()}")
    terminal.type(value)
    terminal.wait_for(lambda screen: value in (line_with(screen, "Apply (ctrl+s)") or ""),
                      f"{value!r} typed in the {placeholder} field")


@dataclass
class Cluster:
    """A Redis of its own (the console shows only what the test does), the processes the test
    starts against it (stopped at the end whatever happened), and a producer."""

    server: RedisServer
    client: redis.Redis
    relier: Relier
    logs: Path
    processes: list[CeleryWorker | subprocess.Popen[bytes]] = field(default_factory=list)

    def worker(self, name: str) -> CeleryWorker:
        """A worker (prefork, two processes, the test apps' tasks) with short leases."""
        worker = start_worker(self.server, self.logs / name, env=FAST_LEASES)
        self.processes.append(worker)
        return worker

    def resurrector(self) -> None:
        """`rl run-resurrector`, forgetting dead workers a second after they were last seen."""
        self.processes.append(start_resurrector(self.server.url, self.logs / "resurrector.log",
                                                {"RELIER_DEAD_WORKER_RETENTION": "1"}))

    def stop(self) -> None:
        for process in self.processes:
            if isinstance(process, CeleryWorker):
                process.kill()
            else:
                stop_process(process)
        self.client.close()
        self.server.stop()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    server = RedisServer(tmp_path / "redis").start()
    relier = Relier(Celery("console-tmux", set_as_current=False),
                    settings=settings_for(server.url, **FAST_LEASES))
    cluster = Cluster(server, server.client(), relier, tmp_path)
    yield cluster
    cluster.stop()


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[Terminal]:
    terminal = Terminal(tmp_path / "tmux.sock")
    yield terminal
    terminal.close()


def test_operator_finds_the_dead_worker_releases_a_dead_letter_and_throttles_a_queue(
    cluster: Cluster, terminal: Terminal
) -> None:
    first = cluster.worker("first").wait_ready()
    stuck = cluster.relier.push_by_name("tests.hold", [300], {})
    failing = cluster.relier.push_by_name("tests.fails_first", ["console"], {})
    terminal.start([sys.executable, "-m", "relier.cli", "tui"],
                   env={**os.environ, **FAST_LEASES, "RELIER_REDIS_URL": cluster.server.url})

    see_the_worker_die(terminal, cluster, first, stuck.id)
    second = release_the_dead_letter(terminal, cluster, failing.id)
    recover_the_stuck_task(terminal, cluster, first, second, stuck.id)
    throttle_the_default_queue(terminal, cluster)


def see_the_worker_die(terminal: Terminal, cluster: Cluster, worker: CeleryWorker, stuck_id: str) -> None:
    """Inflight shows the long task and the process holding it, its lease age under the TTL
    while the task runs on (its lease is renewed, though its record is not re-read); the
    Workers pane shows the worker's pid whole at 80 columns. The worker is SIGKILLed (all its
    processes); the Workers pane shows it `dead` with its lease age past the TTL, and Inflight
    the task still held, its lease age past the TTL too."""
    name = worker.hostname.split("@", 1)[0]
    raw_pid = wait_until(lambda: cluster.client.get(f"test:pid:{stuck_id}:1"), timeout=30)
    pool_pid = cast(bytes, raw_pid).decode()
    # the whole row: a screen read while the console draws it may hold the task's name alone
    screen = terminal.wait_for(lambda s: holds(s, pool_pid) and "DLQ 1" in s,
                               "the running task, the process holding it, and one dead letter")
    # the console read the task's record once, when it started (its own events come only when
    # it ends): 3 s on, longer than the TTL, its lease age must still be the renewed lease's
    first_seen = max(3.0, (seconds(cell(screen, "running", "tests.hold")) or 0.0) + 3.0)
    screen = terminal.wait_for(lambda s: (seconds(cell(s, "running", "tests.hold")) or 0.0) > first_seen,
                               f"the stuck task running for more than {first_seen:.1f} s")
    lease = lease_age(screen, "tests.hold")
    assert lease is not None, screen
    assert lease < LEASE_TTL, f"a renewed lease reads {lease} s:\n{screen}"

    terminal.show("2", "Workers")
    screen = terminal.wait_for(lambda s: "serving" in (line_with(s, name) or ""), "the worker serving")
    lease = lease_age(screen, name)
    assert lease is not None, screen
    assert lease < LEASE_TTL, screen
    assert cell(screen, "pid", name) == str(registered_pid(cluster, worker)), screen

    worker.kill()
    screen = terminal.wait_for(lambda s: "dead" in (line_with(s, name) or "") and "workers 0/1" in s,
                               "the worker dead")
    lease = lease_age(screen, name)
    assert lease is not None, screen
    assert lease >= LEASE_TTL, screen
    assert line_with(screen, "└", pool_pid), f"the process that held the task is not listed:\n{screen}"

    terminal.show("1", "Inflight")
    screen = terminal.wait_for(lambda s: (lease_age(s, "tests.hold") or 0.0) >= LEASE_TTL,
                               "the stuck task's lease age past the TTL")
    assert holds(screen, pool_pid), screen


def registered_pid(cluster: Cluster, worker: CeleryWorker) -> int:
    """The pid `worker` registered (its main process)."""
    registry = cast(dict[bytes, bytes], cluster.client.hgetall(KEYS.workers))
    return next(int(json.loads(info)["pid"]) for node, info in registry.items()
                if node.decode().startswith(f"{worker.hostname}/"))


def release_the_dead_letter(terminal: Terminal, cluster: Cluster, task_id: str) -> CeleryWorker:
    """Dead letters: `r` on the failed task, `y` in the dialog (the mode line says which keys
    it takes meanwhile); it is queued again, and a new worker (returned) runs it: the Events
    pane shows it completed."""
    terminal.show("4", "DLQ")
    terminal.wait_for(lambda s: line_with(s, "tests.fails_first", "yes"), "the releasable dead letter")
    terminal.press("r")
    terminal.wait_for(lambda s: "Release tests.fails_first" in s and "y/n/esc" in s,
                      "the release confirmation, and its keys on the mode line")
    terminal.press("y")
    terminal.wait_for(lambda s: "0 dead letters" in s, "no dead letter left")
    assert cluster.client.hget(KEYS.record(task_id), "state") == b"queued"

    second = cluster.worker("second")
    assert cluster.relier.handle(task_id).result(timeout=60) == "second time lucky"
    terminal.show("3", "Events")
    terminal.wait_for(lambda s: line_with(s, "completed", task_id[:8]), "the released task completed")
    return second


def recover_the_stuck_task(terminal: Terminal, cluster: Cluster, dead: CeleryWorker, second: CeleryWorker,
                           stuck_id: str) -> None:
    """The resurrector takes the stuck task from the dead worker's expired lease (the second
    worker runs it again) and forgets the dead worker: Workers lists only the second one,
    Inflight is empty."""
    cluster.resurrector()
    assert cluster.relier.handle(stuck_id).result(timeout=60)["attempt"] == 2
    name, dead_name = (worker.hostname.split("@", 1)[0] for worker in (second, dead))
    terminal.show("2", "Workers")
    terminal.wait_for(lambda s: line_with(s, name, "serving") and dead_name not in s,
                      "the new worker serving, the dead one forgotten")
    terminal.show("1", "Inflight")
    terminal.wait_for(lambda s: "0 inflight" in s, "no task inflight")


def throttle_the_default_queue(terminal: Terminal, cluster: Cluster) -> None:
    """Admission: `e` (the footer offers it) into the form, name the queue, a rate and a burst,
    ctrl+s, `y`; the limit is listed and live (the next push beyond the burst is refused, and
    counted)."""
    terminal.show("7", "Admission/SLO")
    screen = terminal.wait_for(lambda s: "Apply (ctrl+s)" in s and "e Edit limit" in s,
                               "the limit form and its key in the footer")
    form_y, form = next((y, line) for y, line in enumerate(screen.splitlines()) if "Apply (ctrl+s)" in line)
    terminal.press("e")  # the name field (the scope stays queue)
    fill(terminal, form_y, form, "name", "default")
    for placeholder, value in (("rate/s", "0.2"), ("burst", "1")):
        terminal.press("Tab")
        fill(terminal, form_y, form, placeholder, value)
    terminal.press("C-s")
    terminal.wait_for(lambda s: "Change admission limits now?" in s, "the limit confirmation")
    terminal.press("y")
    # the limits table's row (the form's line holds the same words, and its Apply button)
    row = ("queue", "default", "0.2")
    terminal.wait_for(lambda s: "applied: queue default" in s and line_with(s, *row, without=FORM),
                      "the limit applied and listed")
    assert LiveLimits("queue", "default", 0.2, 1, None) in live_limits(cluster.relier.store)

    cluster.relier.push_by_name("tests.add", [1, 2], {})
    with pytest.raises(AdmissionRejectedError):
        cluster.relier.push_by_name("tests.add", [3, 4], {})
    terminal.wait_for(lambda s: cell(s, "rejected/min", *row, without=FORM) == "1",
                      "the rejection counted for the queue")
