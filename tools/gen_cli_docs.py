"""Regenerate docs/cli.md from the click tree: `python tools/gen_cli_docs.py > docs/cli.md`."""

from __future__ import annotations

import inspect
import textwrap
from collections.abc import Iterator

import click

from relier.cli import cli

HEADER = """# `rl` command line

Every command reads `RELIER_REDIS_URL` (and the other `RELIER_*` settings, see
configuration.md). Exit status: 0 on success, 1 when a check fails or the operation could
not be done (one line on stderr: `rl: error: ...`), 2 on bad usage or a bad setting (one
line). Read commands (`doctor`, `workers`, `tasks`, `tail`, `slo`, `dlq list/show/export`,
`admission status`) never change state, print JSON with `--json`, and never print
passwords or signing keys.

Shell completion (click): `eval "$(_RL_COMPLETE=bash_source rl)"` for bash,
`eval "$(_RL_COMPLETE=zsh_source rl)"` for zsh, `_RL_COMPLETE=fish_source rl | source` for fish.

`rl --help`, `rl COMMAND --help` (or `-h`), and a group run without a command (`rl dlq`) print
the help, laid out for 80 columns, with examples. Aliases kept from the earlier project's
commands: `rl dlq inspect` is `rl dlq show`, `rl dlq purge --confirm` is `--yes`, and
`rl chaos worker-kill --seed N --watch --watch-duration 60` works as written.

With `RELIER_CELLS` (see scaling.md), `workers`, `tasks inflight`, `tail`, `slo`, `dlq` and
`admission` read every cell, merge the rows with a `cell` column (a `cell` field in JSON), and
take `--cell NAME` to read one (a name not in `RELIER_CELLS`: exit 2). A cell that does not
answer is reported on one line of stderr (`cell west: unreachable (...)`) after the others'
rows, and the command exits 1; 0 means every cell answered. `dlq show/release ID` find the
entry in the cell its id names, else in the others. `admission set/clear` without `--cell`
apply to every cell (limits are per cell; `admission status` adds the fleet-wide sum).
Without `RELIER_CELLS` every command prints what it always printed.
"""


def walk(command: click.Command, path: list[str]) -> Iterator[tuple[list[str], click.Command]]:
    yield path, command
    if isinstance(command, click.Group):
        for name in sorted(command.commands):
            yield from walk(command.commands[name], [*path, name])


def describe(help_text: str) -> tuple[list[str], list[str]]:
    """A command's help as (its description's paragraphs, its example lines): the paragraphs
    before ``Example:``/``Examples:`` (click's ``\\b`` blocks kept as they are), and the lines
    of the ``\\b`` block after it."""
    paragraphs = inspect.cleandoc(help_text).split("\n\n")
    description: list[str] = []
    examples: list[str] = []
    in_examples = False
    for paragraph in paragraphs:
        if paragraph.startswith("Example"):
            in_examples = True
        elif in_examples and paragraph.startswith("\b\n"):
            examples += [line.strip() for line in paragraph.splitlines()[1:]]
        elif paragraph.startswith("\b\n"):
            description.append("\n".join(line.strip() for line in paragraph.splitlines()[1:]))
        elif not in_examples:
            description.append(textwrap.fill(" ".join(paragraph.split()), width=95))
    return description, examples


def render() -> str:
    lines = [HEADER]
    for path, command in walk(cli, []):
        if not path:
            continue
        lines.append(f"## `rl {' '.join(path)}`\n")
        description, examples = describe(command.help or "")
        lines += [paragraph + "\n" for paragraph in description]
        if examples:
            lines += ["```sh", *examples, "```", ""]
        arguments = [p for p in command.params if isinstance(p, click.Argument)]
        options = [p for p in command.params if isinstance(p, click.Option) and p.name != "help"]
        if arguments:
            lines.append("Arguments: " + ", ".join(f"`{a.human_readable_name}`" for a in arguments)
                         + "\n")
        if options:
            lines += ["| option | meaning | default |", "| --- | --- | --- |"]
            for option in options:
                names = ", ".join(f"`{name}`" for name in option.opts)
                default = option.default
                shown = ("" if option.is_flag or default is None or default is False
                         or type(default).__name__ == "Sentinel" else f"`{default}`")
                lines.append(f"| {names} | {(option.help or '').replace('|', '/')} | {shown} |")
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    print(render(), end="")
