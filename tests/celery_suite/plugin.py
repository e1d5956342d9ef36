"""pytest plugin that runs Celery's ``t/integration`` tests on relier (``-p tests.celery_suite.plugin``).

- Before Celery's integration conftest is imported (it reads ``TEST_BROKER``/``TEST_BACKEND`` at
  import): a real Redis on a free loopback port, the environment pointing at it (Celery's
  variables, ``REDIS_HOST``/``REDIS_PORT`` for its tasks, ``RELIER_REDIS_URL``), and relier's
  resurrector (it pushes countdowns and retries when due).
- ``Relier(app, all_tasks=True)`` bound to each app Celery's fixtures create (``celery_app``,
  ``celery_session_app``) as soon as the fixture returns it, before anything finalizes the
  app: the ``@shared_task`` tasks of Celery's ``tasks.py`` (imported by its conftest before any
  app exists) become relier tasks when it is.
- Each test's outcome (`outcomes`) written to ``--celery-suite-outcomes`` as JSON.

``--celery-suite-binding=plain`` runs the same tests on plain Celery (no relier, no resurrector),
to tell which failures are not relier's.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest
from celery import Celery

from relier.config import reset_settings
from relier.testing import LOOPBACK, RedisServer, start_resurrector, stop_process
from tests.celery_suite.outcomes import Outcome, phase_outcome, worst

APP_FIXTURES = ("celery_app", "celery_session_app")


class _Session:
    """The processes this plugin started and the outcomes it recorded."""

    def __init__(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="celery-suite-"))
        self.server: RedisServer | None = None
        self.resurrector: subprocess.Popen[bytes] | None = None
        self.outcomes: dict[str, Outcome] = {}
        #: The session app (its worker's), once bound.
        self.session_app: Celery | None = None


_session = _Session()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("celery-suite", "Celery's integration tests on relier")
    group.addoption("--celery-suite-binding", choices=("relier", "plain"), default="relier",
                    help="bind Relier(app, all_tasks=True) to Celery's test apps, or not")
    group.addoption("--celery-suite-outcomes", default=None, help="write each test's outcome here")
    group.addoption("--celery-suite-timeout", type=float, default=None,
                    help="cap every test's timeout (Celery marks some tests 300 s)")


def _binding(config: pytest.Config) -> str:
    return str(config.getoption("--celery-suite-binding"))


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    server = _session.server = RedisServer(_session.directory / "redis").start()
    os.environ.update({
        "TEST_BROKER": server.url, "TEST_BACKEND": server.url,
        "REDIS_HOST": LOOPBACK, "REDIS_PORT": str(server.port),
        "RELIER_REDIS_URL": server.url, "RELIER_ENV": "test",
    })
    reset_settings()
    if _binding(early_config) == "relier":
        _session.resurrector = start_resurrector(server.url, _session.directory / "resurrector.log")


def pytest_unconfigure(config: pytest.Config) -> None:
    if _session.resurrector is not None:
        stop_process(_session.resurrector)
    if _session.server is not None:
        _session.server.stop()
    shutil.rmtree(_session.directory, ignore_errors=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    cap = config.getoption("--celery-suite-timeout")
    if cap is None:
        return
    for item in items:
        marker = item.get_closest_marker("timeout")
        declared = marker.kwargs.get("timeout", marker.args[0] if marker.args else None) \
            if marker else None
        if declared is None or float(declared) > cap:
            item.add_marker(pytest.mark.timeout(timeout=cap), append=False)


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest,
                         ) -> Generator[None, Any, Any]:
    app = yield
    if fixturedef.argname in APP_FIXTURES and _binding(request.config) == "relier":
        from relier import Relier

        relier = Relier(app, all_tasks=True)
        fixturedef.addfinalizer(relier.connections.close)  # one app per test: no leaked pools
        if fixturedef.argname == "celery_session_app":
            _session.session_app = app
    return app


def _plain_tasks(app: Celery | None) -> dict[str, str]:
    """The session app's tasks that are plain Celery tasks, and why (relier's reason)."""
    if app is None:
        return {}
    from relier import Relier
    from relier.task import RelierTask

    reasons = Relier.of(app).plain_tasks
    return {name: reasons.get(name, "a class-based task (app.register_task): not adopted")
            for name, task in sorted(app.tasks.items())
            if not name.startswith("celery.") and not isinstance(task, RelierTask)}


def _reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple):  # a skip: (path, line, "Skipped: why")
        return str(longrepr[2]).removeprefix("Skipped: ")
    crash = getattr(longrepr, "reprcrash", None)
    if crash is not None:
        return str(crash.message)
    lookup_error = getattr(longrepr, "errorstring", None)  # a fixture lookup error
    if lookup_error is not None:
        return str(lookup_error)
    return str(longrepr).strip().splitlines()[-1] if longrepr else ""


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    outcome = phase_outcome(report.when, report.outcome, _reason(report),
                            getattr(report, "wasxfail", None))
    _session.outcomes[report.nodeid] = worst(_session.outcomes.get(report.nodeid), outcome)


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if report.failed:
        _session.outcomes[report.nodeid] = Outcome("error", f"collection: {_reason(report)}")


def pytest_sessionfinish(session: pytest.Session) -> None:
    path = session.config.getoption("--celery-suite-outcomes")
    if path:
        Path(path).write_text(json.dumps({
            "tests": {test_id: {"outcome": outcome.outcome, "reason": outcome.reason}
                      for test_id, outcome in sorted(_session.outcomes.items())},
            "plain_tasks": _plain_tasks(_session.session_app),
        }, indent=1))
