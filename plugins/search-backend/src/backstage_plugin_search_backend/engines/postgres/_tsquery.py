"""From a search term to a `to_tsquery` string: every word, exactly or as a prefix."""

from __future__ import annotations

import re

__all__ = ["to_tsquery_text"]

_REMOVED = re.compile(r"[\x00()|&:*!<>'\\\"]")


def to_tsquery_text(term: str) -> str | None:
    """`pets store` gives `('pets' | 'pets':*) & ('store' | 'store':*)`; None when no word
    is left once the characters that tsquery reads as operators are removed."""
    pieces = [_REMOVED.sub("", piece).strip() for piece in term.split()]
    words = [piece for piece in pieces if piece]
    if not words:
        return None
    return " & ".join(f"('{word}' | '{word}':*)" for word in words)
