"""``rl chaos``: run one scenario and print its verdict (exit 0 held, 1 violated)."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import textwrap
from pathlib import Path
from typing import Any

import click

from relier.binding import Relier
from relier.chaos.engine import ChaosContext, LocalCluster, ScenarioUnavailableError
from relier.chaos.progress import Progress
from relier.chaos.scenarios import SCENARIOS, run
from relier.cli.doctor import load_app
from relier.cli.output import echo, echo_json
from relier.config import reset_settings
from relier.devserver import RedisServer


def _option(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise click.BadParameter(f"{text!r} is not key=value", param_hint="--option")
    try:
        return key.replace("-", "_"), json.loads(value)
    except json.JSONDecodeError:
        return key.replace("-", "_"), value


_NAMES = textwrap.fill(", ".join(sorted(SCENARIOS)), width=70, break_on_hyphens=False,
                       initial_indent="  ", subsequent_indent="  ")
_HELP = f"""Seed probe tasks, inject the fault into workers started here, and give a verdict (exit 0
held, 1 violated). NAME is one of these scenarios (docs/chaos-guide.md says what each proves):

\b
{_NAMES}

Examples:

\b
  rl chaos worker-kill --seed 42 --watch --watch-duration 60
  rl chaos worker-kill --option whole_worker=true --option kills=3
  rl chaos redis-restart --own-server --json
"""


@click.command("chaos", help=_HELP, short_help="Inject a fault into local workers; give a verdict.")
@click.argument("name", type=click.Choice(sorted(SCENARIOS)), metavar="NAME")
@click.option("--option", "options", multiple=True, metavar="KEY=VALUE",
              help="Scenario option, e.g. --option tasks=10 --option whole_worker=true.")
@click.option("--seed", type=int, default=None,
              help="Seed the scenario's random choices (which task to kill next), to repeat a run.")
@click.option("--own-server", is_flag=True,
              help="Run against a throwaway server started for this run, instead of RELIER_REDIS_URL "
                   "(needed by redis-restart, which kills and restarts the server).")
@click.option("--watch", is_flag=True,
              help="Show progress as it happens: each event, and a status line every second.")
@click.option("--watch-duration", type=click.FloatRange(min=0, min_open=True), default=None,
              metavar="SECONDS",
              help="Watch for at most this many seconds (implies --watch; the scenario still runs "
                   "to its verdict). Default: until the verdict.")
@click.option("--json", "as_json", is_flag=True, help="Print the verdict as JSON.")
@click.option("--app", "app_spec", default="relier.tasks:app", show_default=True,
              help="Celery app whose Relier binding to use, as module:attribute.")
def chaos_command(name: str, options: tuple[str, ...], seed: int | None, own_server: bool,  # noqa: PLR0917 - click passes options by name
                  watch: bool, watch_duration: float | None, as_json: bool, app_spec: str) -> int:
    """Run scenario NAME and print its verdict (help: `_HELP`)."""
    overrides = dict(_option(text) for text in options)
    unknown = set(overrides) - set(SCENARIOS[name].options)
    if unknown:
        raise click.UsageError(f"{name} has no option {', '.join(sorted(unknown))}; it takes "
                               f"{', '.join(sorted(SCENARIOS[name].options))}")
    with tempfile.TemporaryDirectory(prefix="relier-chaos-") as logs, contextlib.ExitStack() as stack:
        server = None
        if own_server:
            server = RedisServer(Path(logs) / "server").start()
            stack.callback(server.stop)
            os.environ["RELIER_REDIS_URL"] = server.url
            reset_settings()
        relier = Relier.of(load_app(app_spec))
        if server is not None and relier.settings.redis_url != server.url:
            raise click.UsageError(f"--own-server needs an app configured from RELIER_REDIS_URL; "
                                   f"{app_spec} uses its own broker URL")
        progress = Progress(name, watch=watch or watch_duration is not None, to_stderr=as_json,
                            duration=watch_duration)
        ctx = ChaosContext(relier, LocalCluster(relier, Path(logs)), progress.report, server=server,
                           seed=seed)
        progress.status = ctx.tally
        stack.enter_context(progress)
        try:
            verdict = run(name, ctx, overrides)
        except ScenarioUnavailableError as exc:
            raise click.UsageError(str(exc)) from None
    if as_json:
        echo_json(verdict.as_dict(), indent=2, default=str)
    else:
        for key, value in verdict.numbers.items():
            echo(f"  {key}: {value}")
        for failure in verdict.failures:
            echo(f"  violated: {failure}")
        echo(f"verdict: {name} {'HELD' if verdict.held else 'VIOLATED'}")
    return 0 if verdict.held else 1
