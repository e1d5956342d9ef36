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

from relier.display import MASK, mask_secrets, safe_text
from relier.field_values import as_int
from relier.stored_message import StoredMessage, shown

#: What a table shows for a number Redis holds that is not one (anyone can write Redis).
UNREADABLE_NUMBER = "?"


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


def number_cell(value: int | None) -> str:
    """A number for a table column: `UNREADABLE_NUMBER` when the field was not a number."""
    return UNREADABLE_NUMBER if value is None else str(value)


def number_field(value: str) -> str:
    """A record's number field as text: itself, or ``? (not a number: N bytes)`` when it
    holds anything else (never the garbage itself, which may be huge)."""
    if as_int(value) is not None:
        return value
    return f"{UNREADABLE_NUMBER} (not a number: {len(value.encode())} bytes)"


def echo_message(message: StoredMessage, words: tuple[str, ...]) -> None:
    """Print the call a stored message carries: its signature status, then each argument on
    a line (as a Python literal, values `words` name masked); `rl dlq show` and
    `rl tasks show` print messages this way."""
    echo(f" signature: {message.signature_text}")
    if message.error:
        echo(f"            {message.error}")
    envelope = message.envelope
    if envelope is None:
        return
    if not message.is_verified:
        echo("   warning: NOT verified; the arguments below are what the message claims")
    echo(f"   version: {envelope.version}")
    args = mask_secrets(list(envelope.args), words)
    kwargs = mask_secrets(dict(envelope.kwargs), words)
    echo(f"      args: {len(args) if args else '(none)'}")
    for index, value in enumerate(args):
        echo(f"            [{index}] {_argument(value)}")
    echo(f"    kwargs: {len(kwargs) if kwargs else '(none)'}")
    for key, value in kwargs.items():
        echo(f"            {safe_text(key, limit=200)} = {_argument(value)}")


def _argument(value: Any) -> str:
    return MASK if value == MASK else shown(value)
