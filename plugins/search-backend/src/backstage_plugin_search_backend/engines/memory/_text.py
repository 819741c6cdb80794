"""Words and stems: how document fields and query terms are split and normalised."""

from __future__ import annotations

import re
from collections.abc import Iterator

import Stemmer  # type: ignore[import-not-found]

__all__ = ["WordStemmer", "words", "words_with_spans"]

_WORD = re.compile(r"[^\W_]+")
"""Runs of letters and digits: `petstore-api_v2` is `petstore`, `api`, `v2`."""


def words(text: str) -> list[str]:
    """The lowercased words of `text`."""
    return _WORD.findall(text.lower())


def words_with_spans(text: str) -> Iterator[tuple[str, int, int]]:
    """Each word of `text`, lowercased, with its start and end in `text` itself."""
    for match in _WORD.finditer(text):
        yield match.group().lower(), match.start(), match.end()


class WordStemmer:
    """English (Porter 2) stems, remembered: a catalog repeats few distinct words."""

    __slots__ = ("_cache", "_stemmer")

    def __init__(self) -> None:
        self._stemmer = Stemmer.Stemmer("english")
        self._cache: dict[str, str] = {}

    def stem(self, word: str) -> str:
        stem = self._cache.get(word)
        if stem is None:
            stem = self._stemmer.stemWord(word)
            self._cache[word] = stem
        return stem
