"""Installing relier: never by its bare name from the package index (another project owns it),
and each extra holds what its examples import."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
EXTRAS: dict[str, list[str]] = PYPROJECT["project"]["optional-dependencies"]

#: `pip install relier`, `pip install relier[x]`, `pip install "relier[x]"`: the index's project.
BARE_NAME = re.compile(r"""pip3?\s+install\s+(?:-U\s+|--upgrade\s+)?["']?relier"""
                       r"""(?:\[[^\]]*\])?["']?(?=[\s`"')]|$)""")


def texts() -> list[Path]:
    pages = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").glob("*.md"))]
    code = [*sorted((ROOT / "relier").rglob("*.py")), *sorted((ROOT / "examples").glob("*.py"))]
    return pages + code


def test_nothing_tells_users_to_install_the_bare_name_from_the_index() -> None:
    offenders = [f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
                 for path in texts()
                 for number, line in enumerate(path.read_text().splitlines(), 1)
                 if BARE_NAME.search(line) and "never" not in line]
    assert not offenders


def test_the_bare_name_pattern_catches_the_forms_users_copy() -> None:
    for line in ("pip install relier", "pip install relier[fastapi]", "pip install 'relier[otel]'",
                 "`pip install relier`"):
        assert BARE_NAME.search(line), line
    for line in ("pip install -e '.[fastapi]'", "pip install './dist/relier-0.1.0-py3-none-any.whl'",
                 "pip install relier-tools"):
        assert not BARE_NAME.search(line), line


def _imported_packages(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


def _requirement_names(extra: str) -> set[str]:
    return {re.split(r"[<>=\[;! ]", requirement, maxsplit=1)[0].lower()
            for requirement in EXTRAS[extra]}


def test_the_fastapi_extra_holds_what_its_example_imports_and_runs_with() -> None:
    example = ROOT / "examples" / "fastapi_app.py"
    names = _requirement_names("fastapi")
    assert "fastapi" in _imported_packages(example)
    assert {"fastapi", "uvicorn"} <= names
    assert "uvicorn " in example.read_text()  # the example says how to serve it
