"""Regenerate docs/cli.md from the click tree: `python tools/gen_cli_docs.py > docs/cli.md`."""

from __future__ import annotations

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
"""


def walk(command: click.Command, path: list[str]) -> Iterator[tuple[list[str], click.Command]]:
    yield path, command
    if isinstance(command, click.Group):
        for name in sorted(command.commands):
            yield from walk(command.commands[name], [*path, name])


def render() -> str:
    lines = [HEADER]
    for path, command in walk(cli, []):
        if not path:
            continue
        lines.append(f"## `rl {' '.join(path)}`\n")
        lines.append((command.help or "").strip().split("\n\n")[0].replace("\n", " ") + "\n")
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
