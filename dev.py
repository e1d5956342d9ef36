#!/usr/bin/env python3
"""Bootstrap for a fresh machine with only Python 3.11+.

    python3 dev.py demo    create .venv, install relier, run `rl demo`
    python3 dev.py test    create .venv, install relier with test tools, run the whole suite

Extra arguments after `test` go to pytest; after `demo` to `rl demo`.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / "bin"
STAMP = VENV / ".relier-installed"
PYTEST_NO_TESTS = 5


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


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"demo", "test"}:
        print(__doc__, file=sys.stderr)
        return 2
    _ensure_environment()
    command, rest = argv[0], argv[1:]
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    if command == "demo":
        return subprocess.call([str(BIN / "rl"), "demo", *rest], cwd=ROOT, env=env)
    code = subprocess.call([_python(), "-m", "pytest", *rest], cwd=ROOT, env=env)
    if code == PYTEST_NO_TESTS:
        print("pytest collected no tests: failing", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
