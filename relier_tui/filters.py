"""The console's filter boxes: ``key=value`` terms and free words, parsed without I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Filter:
    """Every term must match: ``fields`` by exact value, ``words`` as substrings of any field."""

    fields: dict[str, str] = field(default_factory=dict)
    words: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> Filter:
        """The filter a box's text describes: ``key=value`` terms, the rest words (lowercased)."""
        fields: dict[str, str] = {}
        words: list[str] = []
        for term in text.split():
            key, sep, value = term.partition("=")
            if sep and key and value:
                fields[key.lower()] = value
            else:
                words.append(term.lower())
        return cls(fields, tuple(words))

    @property
    def is_empty(self) -> bool:
        """Whether the filter selects everything."""
        return not self.fields and not self.words

    def matches(self, row: Mapping[str, object]) -> bool:
        """Whether `row` has every field's exact value and contains every word."""
        for key, value in self.fields.items():
            if str(row.get(key, "")) != value:
                return False
        if self.words:
            text = " ".join(str(value) for value in row.values()).lower()
            return all(word in text for word in self.words)
        return True
