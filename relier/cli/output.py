"""What ``rl`` prints: text from Redis with its control characters replaced, JSON escaped.

Anything read from Redis (task names, errors, tracebacks, queue and worker names, event
fields) may have been written by anyone who can reach the server; every command prints it
through `echo` or `echo_json`, so no escape sequence reaches the operator's terminal.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import click

from relier.display import safe_text


def echo(text: object, *, keep_newlines: bool = False, err: bool = False) -> None:
    """Print `text` with every control or bidi character replaced; `keep_newlines` for tracebacks."""
    click.echo(safe_text(text, keep_newlines=keep_newlines), err=err)


def echo_lines(lines: Iterable[object]) -> None:
    """Print each item as one line: a newline inside an item never starts a new one."""
    for line in lines:
        echo(line)


def dumps(value: Any, **options: Any) -> str:
    """`value` as JSON with every non-ASCII and control character escaped (``\\u001b``)."""
    return json.dumps(value, ensure_ascii=True, **options)


def echo_json(value: Any, **options: Any) -> None:
    """Print `value` as JSON (see `dumps`): no raw escape sequence ever reaches the terminal."""
    click.echo(dumps(value, **options))
