"""Secrets stay off the operator's screen: values whose key, or whose own text, contains one of
RELIER_CONSOLE_MASK's words are shown as a fixed mask."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from relier.config import get_settings

MASK = "••••••"


@dataclass(frozen=True, slots=True)
class SecretMask:
    """The words that make a key or a value secret (matched case-insensitively)."""

    words: tuple[str, ...]

    @classmethod
    def from_settings(cls) -> SecretMask:
        """The mask RELIER_CONSOLE_MASK configures."""
        return cls(get_settings().console_mask)

    def is_secret(self, text: str) -> bool:
        """Whether `text` contains one of the words."""
        lowered = text.lower()
        return any(word in lowered for word in self.words)

    def apply(self, value: Any) -> Any:
        """A copy of `value` (dicts, lists, tuples, strings, bytes) with secrets masked."""
        if isinstance(value, dict):
            return {key: MASK if isinstance(key, str) and self.is_secret(key) else self.apply(item)
                    for key, item in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self.apply(item) for item in value)
        if isinstance(value, str) and self.is_secret(value):
            return MASK
        if isinstance(value, bytes) and self.is_secret(value.decode(errors="replace")):
            return MASK
        return value
