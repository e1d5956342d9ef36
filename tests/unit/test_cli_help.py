"""`rl --help` and every command's help: readable at 80 columns, nothing cut, an example each."""

from __future__ import annotations

from collections.abc import Iterator

import click
import pytest
from click.testing import CliRunner

from relier.cli import cli


def commands(
    command: click.Command, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    yield path, command
    if isinstance(command, click.Group):
        for name, sub in sorted(command.commands.items()):
            yield from commands(sub, (*path, name))


ALL = list(commands(cli))


def help_of(path: tuple[str, ...]) -> str:
    result = CliRunner().invoke(cli, [*path, "--help"], prog_name="rl", terminal_width=80)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("path", [path for path, _ in ALL], ids=lambda p: " ".join(p) or "rl")
def test_help_fits_80_columns_and_has_an_example(path: tuple[str, ...]) -> None:
    text = help_of(path)
    wide = [line for line in text.splitlines() if len(line) > 80]
    assert not wide, f"lines over 80 columns: {wide}"
    assert "Example" in text
    assert "rl " + " ".join(path) in text.partition("Example")[2]


@pytest.mark.parametrize("path", [path for path, command in ALL if isinstance(command, click.Group)],
                         ids=lambda p: " ".join(p) or "rl")
def test_command_lists_are_never_cut(path: tuple[str, ...]) -> None:
    listing = help_of(path).partition("Commands:\n")[2]
    assert listing
    assert "..." not in listing
    for line in listing.splitlines():
        assert len(line.split(None, 1)) == 2, f"a description wrapped or missing: {line!r}"


def test_every_command_has_its_own_short_help() -> None:
    missing = [" ".join(path) for path, command in ALL if path and not command.short_help]
    assert not missing
