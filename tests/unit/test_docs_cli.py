"""docs/cli.md names every `rl` command and option in the click tree."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import click

from relier.cli import cli

DOC = (Path(__file__).resolve().parents[2] / "docs" / "cli.md").read_text()


def commands(
    command: click.Command, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    yield path, command
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            yield from commands(sub, (*path, name))


def test_every_command_has_a_section() -> None:
    missing = [" ".join(path) for path, _ in commands(cli) if path
               and f"## `rl {' '.join(path)}`" not in DOC]
    assert not missing, f"docs/cli.md lacks sections for: {missing}"


def test_every_option_is_documented_under_its_command() -> None:
    missing = []
    for path, command in commands(cli):
        if not path:
            continue
        start = DOC.index(f"## `rl {' '.join(path)}`")
        end = DOC.find("\n## ", start + 1)
        section = DOC[start:end if end != -1 else len(DOC)]
        for param in command.params:
            if isinstance(param, click.Option) and param.name != "help":
                missing += [f"rl {' '.join(path)} {opt}" for opt in param.opts
                            if f"`{opt}`" not in section]
    assert not missing, f"docs/cli.md lacks options: {missing}"


def test_the_page_is_what_the_generator_writes() -> None:
    """docs/cli.md is `python tools/gen_cli_docs.py > docs/cli.md`: help and docs never drift."""
    import importlib.util

    path = Path(__file__).resolve().parents[2] / "tools" / "gen_cli_docs.py"
    spec = importlib.util.spec_from_file_location("gen_cli_docs", path)
    assert spec is not None
    assert spec.loader is not None
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    assert generator.render() == DOC, "run: python tools/gen_cli_docs.py > docs/cli.md"
