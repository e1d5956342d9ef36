"""Text from Redis as the console shows it: control characters replaced, never read as markup.

Task names, errors, queue and worker names may have been written by anyone who can reach
Redis; a name like ``[link=...]`` or one carrying an escape sequence must show as typed.
"""

from __future__ import annotations

from rich.text import Text

from relier.display import safe_text


def literal(text: object, *, keep_newlines: bool = False) -> Text:
    """`text` as shown on screen: controls replaced, ``[tags]`` and ``:emoji:`` kept as typed."""
    return Text(safe_text(text, keep_newlines=keep_newlines))
