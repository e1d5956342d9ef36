"""The ``rl`` command line."""

from __future__ import annotations

import sys

import click
import redis

from relier.cli.admission import admission
from relier.cli.cancel import cancel_command
from relier.cli.cells import cells
from relier.cli.chaos import chaos_command
from relier.cli.dev import demo, dev
from relier.cli.dlq import dlq
from relier.cli.doctor import doctor
from relier.cli.health import health
from relier.cli.ops import push_command, tail, tasks, workers
from relier.cli.proxy import proxy
from relier.cli.resurrector import run_resurrector
from relier.cli.slo import slo_command
from relier.cli.tui import tui
from relier.config import get_settings
from relier.display import redact_url, safe_text
from relier.errors import ConfigurationError

EXIT_USAGE = 2
#: Help is laid out for an 80-column terminal (narrower ones wrap it further).
HELP_WIDTH = 80
#: click 8.2+ raises this for a group run without a command (older releases print the help).
_NO_ARGS_IS_HELP: tuple[type[click.UsageError], ...] = tuple(
    kind for kind in [getattr(click.exceptions, "NoArgsIsHelpError", None)] if kind is not None)


@click.group(context_settings={"help_option_names": ["-h", "--help"],
                               "max_content_width": HELP_WIDTH})
@click.version_option(package_name="relier", prog_name="rl")
def cli() -> None:
    """relier: reliable Celery tasks on Redis. Every command reads RELIER_REDIS_URL and the
    other RELIER_* settings; `rl COMMAND --help` shows a command's options and examples.

    Examples:

    \b
      rl doctor                   # is Redis safe for relier?
      rl demo                     # a local cluster and traffic, in the console
      rl workers
      rl dlq list --newer-than 1h
      rl dlq show 3f2c9a1e-...
    """


cli.add_command(doctor)
cli.add_command(dev)
cli.add_command(demo)
cli.add_command(run_resurrector)
cli.add_command(dlq)
cli.add_command(admission)
cli.add_command(workers)
cli.add_command(tasks)
cli.add_command(tail)
cli.add_command(push_command)
cli.add_command(slo_command)
cli.add_command(chaos_command)
cli.add_command(proxy)
cli.add_command(health)
cli.add_command(tui)
cli.add_command(cancel_command)
cli.add_command(cells)


def _fail(message: str, code: int) -> SystemExit:
    """Write `message` as one line (its text may come from Redis: controls replaced)."""
    sys.stderr.write(safe_text(message) + "\n")
    return SystemExit(code)


def main(argv: list[str] | None = None) -> None:
    """Entry point: bad usage prints one line and exits 2; configuration errors exit 2 too."""
    try:
        code = cli.main(args=argv, prog_name="rl", standalone_mode=False)
    except _NO_ARGS_IS_HELP as exc:  # `rl`, `rl dlq`: the help, as --help gives it
        click.echo(exc.ctx.get_help() if exc.ctx is not None else exc.format_message())
        raise SystemExit(0) from None
    except click.exceptions.Abort:
        raise _fail("rl: aborted", 1) from None
    except click.UsageError as exc:
        raise _fail(f"rl: error: {exc.format_message()}", EXIT_USAGE) from None
    except ConfigurationError as exc:
        raise _fail(f"rl: configuration error: {exc}", EXIT_USAGE) from None
    except click.ClickException as exc:
        raise _fail(f"rl: error: {exc.format_message()}", exc.exit_code) from None
    except redis.RedisError as exc:
        url = redact_url(get_settings().redis_url)
        raise _fail(f"rl: error: cannot reach Redis at {url}: {exc}", 1) from None
    raise SystemExit(code if isinstance(code, int) else 0)
