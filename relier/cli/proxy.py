"""``rl proxy``: the loopback TCP fault proxy, for staging (``run``) and for steering it (``set``)."""

from __future__ import annotations

import signal
import threading
from types import FrameType

import click

from relier.chaos.proxy import FaultMode, FaultProxy, ProxyControl, send_control
from relier.cli.output import echo_json

DEFAULT_CONTROL = "127.0.0.1:7380"


def _address(text: str, what: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise click.BadParameter(f"{text!r} is not HOST:PORT", param_hint=what)
    return host, int(port)


@click.group(short_help="A TCP fault proxy to Redis: cut, delay, drop.")
def proxy() -> None:
    """A loopback TCP fault proxy between workers and Redis: cut, partition, delay or drop.

    Examples:

    \b
      rl proxy run --upstream 127.0.0.1:6379      # workers use 127.0.0.1:7379
      rl proxy set delay 0.2
      rl proxy set heal
    """


@proxy.command("run", short_help="Forward to Redis until Ctrl-C.")
@click.option("--listen", default="127.0.0.1:7379", show_default=True,
              help="Loopback HOST:PORT the workers connect to instead of Redis.")
@click.option("--upstream", required=True, help="HOST:PORT of the real Redis.")
@click.option("--control", default=DEFAULT_CONTROL, show_default=True,
              help="Loopback HOST:PORT that `rl proxy set` talks to.")
def run_command(listen: str, upstream: str, control: str) -> int:
    """Forward LISTEN to UPSTREAM until Ctrl-C; faults are switched with `rl proxy set`.

    Example:

    \b
      rl proxy run --upstream 127.0.0.1:6379 --listen 127.0.0.1:7379
    """
    listen_host, listen_port = _address(listen, "--listen")
    control_host, control_port = _address(control, "--control")
    try:
        fault_proxy = FaultProxy(*_address(upstream, "--upstream"), listen_host=listen_host,
                                 listen_port=listen_port).start()
        ProxyControl(fault_proxy, control_host, control_port).start()
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"cannot listen: {exc}") from None
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    click.echo(f"fault proxy {listen} -> {upstream}; control on {control}. Ctrl-C stops it.")
    stop.wait()
    fault_proxy.stop()
    return 0


@proxy.command("set", short_help="Switch the running proxy's fault.")
@click.argument("mode", type=click.Choice([*(mode.value for mode in FaultMode), "heal", "status"]))
@click.argument("seconds", type=click.FloatRange(min=0), required=False)
@click.option("--control", default=DEFAULT_CONTROL, show_default=True,
              help="The control address given to `rl proxy run`.")
def set_command(mode: str, seconds: float | None, control: str) -> int:
    """Switch the running proxy to MODE (`delay` takes SECONDS); prints its status as JSON.

    Examples:

    \b
      rl proxy set partition
      rl proxy set delay 0.5
      rl proxy set heal
    """
    if mode == FaultMode.DELAY and seconds is None:
        raise click.UsageError("delay needs SECONDS, e.g. `rl proxy set delay 0.2`")
    command = f"{mode} {seconds}" if mode == FaultMode.DELAY else mode
    try:
        reply = send_control(*_address(control, "--control"), command)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"no fault proxy answers on {control}: {exc}") from None
    echo_json(reply)
    return 1 if "error" in reply else 0
