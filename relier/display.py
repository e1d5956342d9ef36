"""Making text from Redis safe to show: control characters replaced, secrets in URLs masked.

Anything stored in Redis may have been written by anyone who can reach it: a task name, an
argument or an error text can carry terminal escape sequences (which retitle a terminal,
move the cursor or hide text). Everything the CLI or the console prints from Redis goes
through `safe_text` first; every URL goes through `redact_url`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

#: What replaces a character that would act on the terminal instead of being shown.
REPLACEMENT = "\N{REPLACEMENT CHARACTER}"
#: What `mask_secrets` shows instead of a secret value.
MASK = "\N{BULLET}" * 6

# C0 and C1 controls, DEL, and the Unicode characters that reorder or hide text.
_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]"
)
_UNSAFE_WITH_NEWLINES = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]"
)

#: Query parameters whose values are secrets wherever they appear in a URL.
_SECRET_PARAMETERS = frozenset({"pass", "auth", "key", "apikey", "api_key", "credentials"})
_SECRET_SUFFIXES = ("password", "passwd", "secret", "token")


def safe_text(value: object, *, keep_newlines: bool = False, limit: int | None = None) -> str:
    """`value` as text with every control or bidi character replaced by U+FFFD.

    Bytes are decoded as UTF-8 with invalid sequences replaced. Tabs are kept; newlines
    only with `keep_newlines` (tracebacks). `limit` truncates with an ellipsis.
    """
    if isinstance(value, bytes | bytearray | memoryview):
        text = bytes(value).decode("utf-8", errors="replace")
    else:
        text = value if isinstance(value, str) else str(value)
    pattern = _UNSAFE if keep_newlines else _UNSAFE_WITH_NEWLINES
    if keep_newlines:
        text = pattern.sub(REPLACEMENT, text.replace("\r\n", "\n"))
    else:
        text = pattern.sub(REPLACEMENT, text.replace("\t", " "))
    if limit is not None and len(text) > limit:
        text = text[: max(0, limit - 1)] + "\N{HORIZONTAL ELLIPSIS}"
    return text


def mask_secrets(value: Any, words: tuple[str, ...]) -> Any:
    """A copy of `value` (dicts, lists, strings, bytes) with `MASK` in place of every value
    whose key, or whose own text, contains one of `words` (case-insensitive; the
    RELIER_CONSOLE_MASK setting)."""
    lowered = tuple(word.lower() for word in words if word)

    def is_secret(text: str) -> bool:
        folded = text.lower()
        return any(word in folded for word in lowered)

    def masked(item: Any) -> Any:
        if isinstance(item, Mapping):
            return {key: MASK if isinstance(key, str) and is_secret(key) else masked(inner)
                    for key, inner in item.items()}
        if isinstance(item, list):
            return [masked(inner) for inner in item]
        if isinstance(item, tuple):
            return tuple(masked(inner) for inner in item)
        if isinstance(item, str) and is_secret(item):
            return MASK
        if isinstance(item, bytes) and is_secret(item.decode(errors="replace")):
            return MASK
        return item

    return masked(value)


def is_printable_name(name: str) -> bool:
    """Whether `name` has only printable characters and no whitespace (for names users give)."""
    return bool(name) and not any(
        unicodedata.category(char)[0] in {"C", "Z"} for char in name
    )


def _is_secret_parameter(name: str) -> bool:
    lowered = name.lower()
    return lowered in _SECRET_PARAMETERS or lowered.endswith(_SECRET_SUFFIXES)


def redact_url(url: str) -> str:
    """The URL with its password (userinfo) and every secret query value replaced by ``***``.

    ``redis://user:pw@h:6379/0?password=x`` -> ``redis://user:***@h:6379/0?password=***``.
    Text that does not parse as a URL is returned with control characters replaced.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return safe_text(url)
    if not parts.netloc:  # unix:///path?password=...: only the query can hold a secret
        path, _, query = url.partition("?")
        return safe_text(f"{path}?{_redacted_query(query)}" if query else url)
    netloc = parts.netloc
    userinfo, at, hosts = netloc.rpartition("@")
    if at:
        user, colon, _ = userinfo.partition(":")
        if colon:
            netloc = f"{user}:***@{hosts}"
        elif userinfo and parts.scheme.startswith(("redis", "rediss", "sentinel", "valkey")):
            # redis://secret@host: a bare userinfo is the password in Redis URLs
            netloc = f"***@{hosts}"
    query = _redacted_query(parts.query) if parts.query else ""
    return safe_text(urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment)))


def _redacted_query(query: str) -> str:
    pairs = parse_qsl(query, keep_blank_values=True)
    return urlencode(
        [(name, "***" if _is_secret_parameter(name) else value) for name, value in pairs],
        safe="*,:/",
    )
