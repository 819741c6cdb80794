"""Highlights: every word of a field that matches a query word, wrapped in the tags."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from backstage_plugin_search_backend.engines.memory._index import QueryWord
from backstage_plugin_search_backend.engines.memory._text import WordStemmer, words_with_spans

__all__ = ["highlight_fields"]

_NOT_HIGHLIGHTED = frozenset({"authorization"})


def _matches(word: str, query_words: Sequence[QueryWord], stemmer: WordStemmer) -> bool:
    return any(
        word.startswith(query.word) or stemmer.stem(word) == query.stem for query in query_words
    )


def _highlight(
    text: str,
    query_words: Sequence[QueryWord],
    stemmer: WordStemmer,
    pre_tag: str,
    post_tag: str,
) -> str | None:
    parts: list[str] = []
    end = 0
    for word, start, stop in words_with_spans(text):
        if _matches(word, query_words, stemmer):
            parts += [text[end:start], pre_tag, text[start:stop], post_tag]
            end = stop
    if not parts:
        return None
    parts.append(text[end:])
    return "".join(parts)


def highlight_fields(
    document: Mapping[str, object],
    query_words: Sequence[QueryWord],
    stemmer: WordStemmer,
    *,
    pre_tag: str,
    post_tag: str,
) -> dict[str, str]:
    """The document's string fields that contain a match, whole, with every hit wrapped."""
    if not query_words:
        return {}
    fields: dict[str, str] = {}
    for name, value in document.items():
        if name in _NOT_HIGHLIGHTED or not isinstance(value, str):
            continue
        highlighted = _highlight(value, query_words, stemmer, pre_tag, post_tag)
        if highlighted is not None:
            fields[name] = highlighted
    return fields
