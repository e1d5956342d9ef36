"""Sessions: lint, typecheck, tests (against each available server), chaos, bench."""

from __future__ import annotations

import shutil

import nox

nox.options.sessions = ["lint", "typecheck", "tests"]
nox.options.reuse_existing_virtualenvs = True


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff")
    session.run("ruff", "check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    session.install("-e", ".[dev]")
    session.run("mypy")


def _servers() -> list[str]:
    servers = ["valkey"]
    if shutil.which("redis-server"):
        servers.insert(0, "redis")
    return servers


@nox.session
@nox.parametrize("server", _servers())
def tests(session: nox.Session, server: str) -> None:
    session.install("-e", ".[dev]")
    args = session.posargs or ["-n", "3"]  # as `dev.py test`: the tests mostly wait
    session.run("pytest", *args, env={"RELIER_TEST_SERVER": server})


@nox.session
def chaos(session: nox.Session) -> None:
    """The full chaos profile; writes chaos/results/."""
    session.install("-e", ".[dev]")
    session.run("python", "-m", "chaos", "--profile", "full", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    session.install("-e", ".[dev]")
    session.run("python", "-m", "bench", *session.posargs)


@nox.session
def fuzz(session: nox.Session) -> None:
    """Poison elements in a relier queue, ten times the default suite's sample, three seeds."""
    session.install("-e", ".[dev]")
    for seed in ("1", "2", "3"):
        session.run("pytest", "tests/integration/test_poison.py", *session.posargs,
                    env={"POISON_ELEMENTS": "5000", "POISON_SEED": seed})


@nox.session
def console(session: nox.Session) -> None:
    """Every console key from every pane (the default suite drives a slice of the matrix)."""
    session.install("-e", ".[dev]")
    session.run("pytest", "tests/tui", *session.posargs, env={"FULL_KEY_MATRIX": "1"})


@nox.session
def celery_suite(session: nox.Session) -> None:
    """Celery's own integration tests (its sdist's t/integration) with Relier(app, all_tasks=True):
    writes tests/celery_suite/results.json and the generated section of docs/celery-compat.md.
    Arguments go to the runner: ``nox -s celery_suite -- --reclassify``, ``-- --timeout 60``,
    pytest's after a second ``--`` for a partial run written elsewhere
    (``-- --results /tmp/chord.json -- -k chord``)."""
    session.install("-e", ".[dev]")
    session.run("python", "-m", "tests.celery_suite", *session.posargs)
