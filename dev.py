#!/usr/bin/env python3
"""Bootstrap for a fresh machine with only Python 3.11+ (the Makefile's targets call it).

    python3 dev.py demo        create .venv, install relier, run `rl demo`
    python3 dev.py test        create .venv, install relier with test tools, run the whole suite
    python3 dev.py setup       only create .venv and install relier with its development tools
    python3 dev.py lint        ruff check .
    python3 dev.py typecheck   mypy (strict)
    python3 dev.py check       lint, typecheck, then the unit tests (no servers needed)
    python3 dev.py bench       python -m bench (the benchmarks beside vanilla Celery)
    python3 dev.py compose dev|prod
                               the Docker Compose stack in deploy/compose/ (prod needs
                               deploy/compose/prod.env: copy prod.env.example and fill it in)

Extra arguments after `test` go to pytest; after `demo` to `rl demo`; after `bench` to
`python -m bench`; after `compose dev|prod` to `docker compose ... up`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / "bin"
STAMP = VENV / ".relier-installed"
PYTEST_NO_TESTS = 5
EXIT_USAGE = 2
COMPOSE = ROOT / "deploy" / "compose"


def _python() -> str:
    return str(BIN / "python")


def _ensure_environment() -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - this script may be run by an older python3
        sys.exit("relier needs Python 3.11 or newer")
    if not (BIN / "python").exists():
        print(f"creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == digest:
        return
    print("installing relier and its development tools into .venv", flush=True)
    subprocess.run([_python(), "-m", "pip", "install", "--quiet", "--upgrade", "pip"], check=True)
    subprocess.run([_python(), "-m", "pip", "install", "--quiet", "-e", f"{ROOT}[dev]"], check=True)
    STAMP.write_text(digest)


def _env() -> dict[str, str]:
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}


#: pytest worker processes for the suite. Its tests wait on real processes (workers starting,
#: leases expiring, Redis restarting) far more than they compute: three of them on a 2-core
#: machine ran it in 9 minutes instead of 24, each test still in its own Redis and directory.
#: ``-n 0`` (or any ``-n``/``--numprocesses`` of your own) overrides it.
TEST_PROCESSES = min(8, max(3, (os.cpu_count() or 2) + 1))


def _parallel(args: list[str]) -> list[str]:
    """`args` with pytest-xdist's ``-n TEST_PROCESSES`` first, unless they choose their own."""
    chosen = any(arg == "-n" or arg.startswith(("-n=", "--numprocesses")) or
                 (arg.startswith("-n") and arg[2:].isdigit()) for arg in args)
    return args if chosen else ["-n", str(TEST_PROCESSES), *args]


def _test(args: list[str]) -> int:
    return _pytest(_parallel(args))


def _pytest(args: list[str]) -> int:
    code = subprocess.call([_python(), "-m", "pytest", *args], cwd=ROOT, env=_env())
    if code == PYTEST_NO_TESTS:
        print("pytest collected no tests: failing", file=sys.stderr)
        return 1
    return code


def _setup(args: list[str]) -> int:
    print(f"ready: {VENV} has relier and its development tools (. {BIN / 'activate'})")
    return 0


def _demo(args: list[str]) -> int:
    return subprocess.call([str(BIN / "rl"), "demo", *args], cwd=ROOT, env=_env())


def _lint(args: list[str]) -> int:
    return subprocess.call([_python(), "-m", "ruff", "check", ".", *args], cwd=ROOT, env=_env())


def _typecheck(args: list[str]) -> int:
    return subprocess.call([_python(), "-m", "mypy", *args], cwd=ROOT, env=_env())


def _check(args: list[str]) -> int:
    for step in (_lint, _typecheck):
        code = step([])
        if code:
            return code
    return _pytest(["tests/unit", *args])


def _bench(args: list[str]) -> int:
    return subprocess.call([_python(), "-m", "bench", *args], cwd=ROOT, env=_env())


def _compose(args: list[str]) -> int:
    if not args or args[0] not in {"dev", "prod"}:
        print("dev.py compose: say which stack, dev or prod", file=sys.stderr)
        return EXIT_USAGE
    stack, rest = args[0], args[1:]
    env_file = COMPOSE / "prod.env"
    if stack == "prod" and not env_file.exists():
        print(f"dev.py compose prod: {env_file} is missing: copy prod.env.example there and "
              "fill in its secrets (docs/deployment.md)", file=sys.stderr)
        return EXIT_USAGE
    docker = shutil.which("docker")
    if docker is None:
        print("dev.py compose: docker is not on the PATH (the stacks run in Docker Compose)",
              file=sys.stderr)
        return EXIT_USAGE
    if stack == "dev":
        command = [docker, "compose", "-f", str(COMPOSE / "dev.yml"), "up", "--build", *rest]
    else:
        command = [docker, "compose", "--env-file", str(env_file), "-f", str(COMPOSE / "prod.yml"),
                   "up", "-d", "--build", *rest]
    return subprocess.call(command, cwd=ROOT)


#: Each command, and whether it needs .venv first (compose runs in Docker only).
COMMANDS: dict[str, tuple[Callable[[list[str]], int], bool]] = {
    "demo": (_demo, True), "test": (_test, True), "setup": (_setup, True),
    "lint": (_lint, True), "typecheck": (_typecheck, True), "check": (_check, True),
    "bench": (_bench, True), "compose": (_compose, False),
}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in COMMANDS:
        print(__doc__, file=sys.stderr)
        return EXIT_USAGE
    run, needs_environment = COMMANDS[argv[0]]
    if needs_environment:
        _ensure_environment()
    return run(argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
