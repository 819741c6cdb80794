"""One type's in-memory index: BM25F scores per (stem, document), prefixes over words.

An index is built once by `IndexBuilder` and never changed afterwards, so queries read it
without locks while the next one is being built.
"""

from __future__ import annotations

import bisect
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from backstage_plugin_search_node import FilterValue, IndexableDocument

from backstage_plugin_search_backend.engines.memory._text import WordStemmer, words

__all__ = ["IndexBuilder", "QueryWord", "TypeIndex"]

_K1 = 1.2
_B = 0.75
_FIELD_WEIGHTS = {"title": 3.0, "text": 1.0}
_OTHER_FIELD_WEIGHT = 0.5
_UNINDEXED_FIELDS = frozenset({"location", "authorization"})
_PREFIX_WEIGHT = 0.5
"""A word that only starts with the query word scores half as much as the word itself."""
_MAX_PREFIX_EXPANSIONS = 64
"""A short prefix stands for at most this many stems (the most frequent ones)."""


def _field_texts(document: Mapping[str, object]) -> Iterable[tuple[str, str]]:
    for name, value in document.items():
        if name in _UNINDEXED_FIELDS:
            continue
        if isinstance(value, str):
            yield name, value
        elif isinstance(value, list):
            yield name, " ".join(item for item in value if isinstance(item, str))


@dataclass(frozen=True)
class QueryWord:
    """One word of a query: its stem matches exactly, the word itself as a prefix."""

    word: str
    stem: str


def _normalised(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).lower()


def _values_by_position(documents: Sequence[Mapping[str, object]], key: str) -> dict[str, set[int]]:
    """Where each value of the field `key` occurs, lowercased (every item of a list)."""
    positions: dict[str, set[int]] = {}
    for position, document in enumerate(documents):
        value = document.get(key)
        if value is None:
            continue
        for item in value if isinstance(value, list) else [value]:
            positions.setdefault(_normalised(item), set()).add(position)
    return positions


class TypeIndex:
    """The documents of one type and what is needed to score them."""

    __slots__ = ("_filter_fields", "_postings", "_stems", "_words", "documents")

    def __init__(
        self,
        documents: list[IndexableDocument],
        postings: dict[str, dict[int, float]],
        word_stems: dict[str, str],
    ) -> None:
        self.documents = documents
        self._postings = postings
        ordered = sorted(word_stems)
        self._words = ordered
        self._stems = [word_stems[word] for word in ordered]
        self._filter_fields: dict[str, dict[str, set[int]]] = {}

    def _filtered(self, filters: Mapping[str, FilterValue]) -> set[int]:
        """The documents that pass every filter: per key, the document's value (or one of
        its values) equals one of the wanted values, ignoring case."""
        allowed: set[int] | None = None
        for key, wanted in filters.items():
            field = self._filter_fields.get(key)
            if field is None:
                # Built on first use and kept: the index never changes.
                field = self._filter_fields[key] = _values_by_position(self.documents, key)
            passing: set[int] = set()
            for value in wanted if isinstance(wanted, list) else [wanted]:
                passing |= field.get(_normalised(value), set())
            allowed = passing if allowed is None else allowed & passing
            if not allowed:
                return set()
        return allowed if allowed is not None else set()

    def _prefix_stems(self, word: str, exact: str) -> list[str]:
        start = bisect.bisect_left(self._words, word)
        end = bisect.bisect_left(self._words, word + "\U0010ffff", lo=start)
        stems = {self._stems[i] for i in range(start, end)} - {exact}
        if len(stems) > _MAX_PREFIX_EXPANSIONS:
            return sorted(stems, key=lambda stem: -len(self._postings[stem]))[
                :_MAX_PREFIX_EXPANSIONS
            ]
        return list(stems)

    def _word_scores(self, query_word: QueryWord) -> dict[int, float]:
        scores = dict(self._postings.get(query_word.stem, {}))
        for stem in self._prefix_stems(query_word.word, query_word.stem):
            for document, score in self._postings[stem].items():
                weighted = score * _PREFIX_WEIGHT
                if weighted > scores.get(document, 0.0):
                    scores[document] = weighted
        return scores

    def search(
        self, query_words: Sequence[QueryWord], filters: Mapping[str, FilterValue]
    ) -> list[tuple[float, int]]:
        """(score, document position) of every document that has every query word (a word
        or a prefix of one) and passes the filters; unordered. No words: every document."""
        allowed = self._filtered(filters) if filters else None
        if not query_words:
            positions = range(len(self.documents)) if allowed is None else sorted(allowed)
            return [(0.0, position) for position in positions]
        per_word = sorted((self._word_scores(word) for word in query_words), key=len)
        combined = per_word[0]
        for other in per_word[1:]:
            combined = {
                document: score + other[document]
                for document, score in combined.items()
                if document in other
            }
        if allowed is not None:
            return [
                (score, position) for position, score in combined.items() if position in allowed
            ]
        return [(score, position) for position, score in combined.items()]


class IndexBuilder:
    """Collects documents batch by batch, then computes the scores once."""

    def __init__(self) -> None:
        self._stemmer = WordStemmer()
        self._documents: list[IndexableDocument] = []
        self._fields: list[list[tuple[str, int, Counter[str]]]] = []
        self._word_stems: dict[str, str] = {}
        self._length_sums: Counter[str] = Counter()
        self._field_counts: Counter[str] = Counter()

    def __len__(self) -> int:
        return len(self._documents)

    def add(self, documents: Iterable[IndexableDocument]) -> None:
        stem = self._stemmer.stem
        word_stems = self._word_stems
        for document in documents:
            fields = []
            for name, text in _field_texts(document):
                field_words = words(text)
                if not field_words:
                    continue
                counts: Counter[str] = Counter()
                for word in field_words:
                    stemmed = word_stems.get(word)
                    if stemmed is None:
                        stemmed = word_stems[word] = stem(word)
                    counts[stemmed] += 1
                fields.append((name, len(field_words), counts))
                self._length_sums[name] += len(field_words)
                self._field_counts[name] += 1
            self._documents.append(document)
            self._fields.append(fields)

    def build(self) -> TypeIndex:
        averages = {
            name: self._length_sums[name] / self._field_counts[name] for name in self._field_counts
        }
        frequencies: dict[str, dict[int, float]] = {}
        for position, fields in enumerate(self._fields):
            weighted: dict[str, float] = {}
            for name, length, counts in fields:
                weight = _FIELD_WEIGHTS.get(name, _OTHER_FIELD_WEIGHT)
                norm = 1 - _B + _B * length / averages[name]
                for stemmed, count in counts.items():
                    weighted[stemmed] = weighted.get(stemmed, 0.0) + weight * count / norm
            for stemmed, frequency in weighted.items():
                frequencies.setdefault(stemmed, {})[position] = frequency
        total = len(self._documents)
        postings: dict[str, dict[int, float]] = {}
        for stemmed, by_document in frequencies.items():
            idf = math.log(1 + (total - len(by_document) + 0.5) / (len(by_document) + 0.5))
            postings[stemmed] = {
                position: idf * frequency * (_K1 + 1) / (_K1 + frequency)
                for position, frequency in by_document.items()
            }
        self._fields = []
        return TypeIndex(self._documents, postings, self._word_stems)
