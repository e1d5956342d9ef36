"""The Makefile's targets (the earlier project's names) each call a dev.py command, and
CONTRIBUTING.md lists every one."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
SEED_TARGETS = {"setup", "demo", "dev", "prod", "test", "test-integration", "lint", "check", "bench"}


def dev_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("dev_script", ROOT / "dev.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def recipes() -> dict[str, list[str]]:
    targets: dict[str, list[str]] = {}
    current = None
    for line in (ROOT / "Makefile").read_text().splitlines():
        match = re.match(r"^([a-z][a-z-]*):", line)
        if match:
            current = match.group(1)
            targets[current] = []
        elif line.startswith("\t") and current is not None:
            targets[current].append(line.strip())
    return targets


def test_every_target_calls_a_dev_py_command() -> None:
    commands = dev_script().COMMANDS
    found = recipes()
    assert set(found) >= SEED_TARGETS
    for target, lines in found.items():
        assert len(lines) == 1, target
        words = lines[0].split()
        assert words[:2] == ["$(PYTHON)", "dev.py"], target
        assert words[2] in commands, target


def test_every_target_is_documented() -> None:
    contributing = (ROOT / "CONTRIBUTING.md").read_text()
    missing = [target for target in recipes() if f"| `make {target}` |" not in contributing]
    assert not missing


def test_compose_needs_a_stack_and_prod_its_env_file() -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, str(ROOT / "dev.py"), "compose", *args],
                              capture_output=True, text=True, timeout=60, check=False)

    assert run().returncode == 2
    assert "dev or prod" in run("staging").stderr
    if not (ROOT / "deploy" / "compose" / "prod.env").exists():
        refused = run("prod")
        assert refused.returncode == 2
        assert "prod.env" in refused.stderr
