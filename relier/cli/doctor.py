"""``rl doctor``: check the Redis at RELIER_REDIS_URL and the Celery app, with fixes."""

from __future__ import annotations

import json
from typing import Any

import click

from relier import preflight
from relier.config import get_settings
from relier.connection import client_for
from relier.consumers import describe, foreign_consumers
from relier.display import redact_url
from relier.errors import ConfigurationError
from relier.preflight import Check, Severity
from relier.runtime import runtime_of

_STYLE = {Severity.OK: "green", Severity.WARNING: "yellow", Severity.ERROR: "red"}


def load_app(spec: str) -> Any:
    from celery.utils.imports import symbol_by_name  # noqa: PLC0415 - only with --app

    try:
        return symbol_by_name(spec)
    except (ImportError, AttributeError, ValueError) as exc:
        raise click.BadParameter(f"cannot import {spec!r}: {exc}", param_hint="--app") from None


def check_consumers(app: Any) -> Check:
    """Celery workers without relier that consume a relier queue (`relier.consumers`)."""
    runtime = runtime_of(app)
    if runtime is None:
        return Check("consumers", Severity.WARNING, "no Relier is bound to this app",
                     "create Relier(app) in the module --app names")
    also = {*runtime.task_queues.values(), runtime.settings.default_queue}
    try:
        foreign = foreign_consumers(app, runtime.store, also)
    except Exception as exc:  # noqa: BLE001 - the broadcast is best effort; say why it failed
        return Check("consumers", Severity.WARNING, f"could not ask the workers: {exc}",
                     "check the broker connection")
    if not foreign:
        return Check("consumers", Severity.OK, "no worker without relier consumes a relier queue")
    return Check("consumers", Severity.WARNING,
                 "; ".join(describe(worker, queues) for worker, queues in sorted(foreign.items())),
                 "bind Relier(app) in those workers' app, or take the queues off their -Q")


@click.command(short_help="Check Redis and the app before starting workers.")
@click.option("--app", "app_spec", default="relier.tasks:app", show_default=True,
              help="Celery app to check, as module:attribute.")
@click.option("--json", "as_json", is_flag=True, help="Print the checks as JSON.")
def doctor(app_spec: str, as_json: bool) -> int:
    """Check Redis and the app; exit 1 if a worker would refuse to start.

    Examples:

    \b
      rl doctor
      rl doctor --app myproject.celery:app --json
    """
    try:
        settings = get_settings()
    except ConfigurationError as exc:
        return _report_unreadable_settings(exc, as_json)
    client = client_for(settings)
    try:
        checks: list[Check] = preflight.check_server(client)
        if not checks[0].is_blocking:
            checks.append(preflight.check_memory(client, settings.memory_warning))
    finally:
        client.close()
    app = load_app(app_spec)
    checks += preflight.check_app(app, redis_url=settings.redis_url)
    checks += preflight.check_settings(settings)
    if not checks[0].is_blocking:
        checks.append(check_consumers(app))
    failed = any(check.is_blocking for check in checks)
    if as_json:
        click.echo(json.dumps({
            "redis_url": redact_url(settings.redis_url),
            "ok": not failed,
            "checks": [{"name": c.name, "severity": c.severity.value, "detail": c.detail,
                        "fix": c.fix} for c in checks],
        }, indent=2))
        return 1 if failed else 0
    click.echo(f"relier doctor: {redact_url(settings.redis_url)}")
    for check in checks:
        label = click.style(f"{check.severity.value:<8}", fg=_STYLE[check.severity])
        click.echo(f"  {label} {check.name:<24} {check.detail}")
        if check.fix and check.severity is not Severity.OK:
            click.echo(f"  {'':<8} {'':<24} fix: {check.fix}")
    verdict = "workers would refuse to start" if failed else "ready"
    click.echo(f"result: {verdict}")
    return 1 if failed else 0


def _report_unreadable_settings(error: ConfigurationError, as_json: bool) -> int:
    """Settings that do not parse (a duplicate key id, a short secret, a bad number): every
    process would refuse them, so the doctor fails without going further."""
    check = Check("settings", Severity.ERROR, str(error),
                  "fix the variable named above (docs/configuration.md)")
    if as_json:
        click.echo(json.dumps({"ok": False, "checks": [
            {"name": check.name, "severity": check.severity.value, "detail": check.detail,
             "fix": check.fix}]}, indent=2))
        return 1
    label = click.style(f"{check.severity.value:<8}", fg=_STYLE[check.severity])
    click.echo(f"  {label} {check.name:<24} {check.detail}")
    click.echo(f"  {'':<8} {'':<24} fix: {check.fix}")
    click.echo("result: workers would refuse to start")
    return 1
