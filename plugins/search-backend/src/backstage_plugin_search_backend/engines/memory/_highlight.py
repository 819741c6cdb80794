"""Highlights: every word of a field that matches a query word, wrapped in the tags."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from backstage_plugin_search_backend.engines.memory._index import QueryWord
from backstage_plugin_search_backend.engines.memory._text import WordStemmer, words_with_spans

__all__ = ["WordMatcher", "highlight_fields"]

_NOT_HIGHLIGHTED = frozenset({"authorization"})


class WordMatcher:
    """Whether a word matches a query word (as a prefix, or by stem), remembered per word."""

    def __init__(self, query_words: Sequence[QueryWord], stemmer: WordStemmer) -> None:
        self._query_words = query_words
        self._stemmer = stemmer
        self._seen: dict[str, bool] = {}

    def __call__(self, word: str) -> bool:
        matched = self._seen.get(word)
        if matched is None:
            stem = self._stemmer.stem(word)
            matched = self._seen[word] = any(
                word.startswith(query.word) or stem == query.stem for query in self._query_words
            )
        return matched


def _highlight(text: str, matches: WordMatcher, pre_tag: str, post_tag: str) -> str | None:
    parts: list[str] = []
    end = 0
    for word, start, stop in words_with_spans(text):
        if matches(word):
            parts += [text[end:start], pre_tag, text[start:stop], post_tag]
            end = stop
    if not parts:
        return None
    parts.append(text[end:])
    return "".join(parts)


def highlight_fields(
    document: Mapping[str, object],
    matches: WordMatcher | None,
    *,
    pre_tag: str,
    post_tag: str,
) -> dict[str, str]:
    """The document's string fields that contain a match, whole, with every hit wrapped."""
    if matches is None:
        return {}
    fields: dict[str, str] = {}
    for name, value in document.items():
        if name in _NOT_HIGHLIGHTED or not isinstance(value, str):
            continue
        highlighted = _highlight(value, matches, pre_tag, post_tag)
        if highlighted is not None:
            fields[name] = highlighted
    return fields
