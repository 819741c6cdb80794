"""The in-memory engine: one `TypeIndex` per type in this process, replaced whole."""

from __future__ import annotations

import asyncio
import heapq
import uuid
from collections.abc import Sequence

from backstage_backend_plugin_api import LoggerService
from backstage_plugin_search_node import (
    IndexableDocument,
    ResultHighlight,
    SearchQuery,
    SearchResult,
    SearchResultSet,
    decode_page_cursor,
    encode_page_cursor,
    page_size,
)

from backstage_plugin_search_backend.engines.memory._highlight import (
    WordMatcher,
    highlight_fields,
)
from backstage_plugin_search_backend.engines.memory._index import (
    IndexBuilder,
    QueryWord,
    TypeIndex,
)
from backstage_plugin_search_backend.engines.memory._text import WordStemmer, words

__all__ = ["MemorySearchEngine"]

_BATCH_SIZE = 1000


class _MemoryIndexer:
    """Builds a new index off the event loop; `finalize` swaps it in with one assignment."""

    def __init__(self, engine: MemorySearchEngine, type: str) -> None:
        self._engine = engine
        self._type = type
        self._builder: IndexBuilder | None = IndexBuilder()

    def _live_builder(self) -> IndexBuilder:
        if self._builder is None:
            raise RuntimeError(f"The indexing run of '{self._type}' has ended")
        return self._builder

    async def index(self, documents: Sequence[IndexableDocument]) -> None:
        await asyncio.to_thread(self._live_builder().add, list(documents))

    async def finalize(self) -> None:
        builder = self._live_builder()
        self._builder = None
        if len(builder) == 0 and self._engine.has_index(self._type):
            self._engine.logger.warn(
                f"Index for {self._type} was not replaced: the run found no documents"
            )
            return
        self._engine.install(self._type, await asyncio.to_thread(builder.build))

    async def abort(self) -> None:
        self._builder = None


class MemorySearchEngine:
    """BM25 ranking over stemmed words, prefix matching and highlighting, all in this
    process: each replica builds and holds its own index."""

    def __init__(self, logger: LoggerService) -> None:
        self.logger = logger
        self._indices: dict[str, TypeIndex] = {}
        self._stemmer = WordStemmer()
        tag = uuid.uuid4()
        self._pre_tag = f"<{tag}>"
        self._post_tag = f"</{tag}>"

    @property
    def index_is_shared(self) -> bool:
        return False

    @property
    def batch_size(self) -> int:
        return _BATCH_SIZE

    def has_index(self, type: str) -> bool:
        return type in self._indices

    def install(self, type: str, index: TypeIndex) -> None:
        self._indices[type] = index

    async def get_indexer(self, type: str) -> _MemoryIndexer:
        return _MemoryIndexer(self, type)

    def _query_words(self, term: str) -> list[QueryWord]:
        unique = dict.fromkeys(words(term))
        return [QueryWord(word, self._stemmer.stem(word)) for word in unique]

    async def query(self, query: SearchQuery) -> SearchResultSet:
        page = decode_page_cursor(query.page_cursor)
        size = page_size(query.page_limit)
        query_words = self._query_words(query.term)
        unindexed: list[str] = []
        hits: list[tuple[float, int, int]] = []
        searched: list[tuple[str, TypeIndex]] = []
        for type in query.types:
            index = self._indices.get(type)
            if index is None:
                unindexed.append(type)
                continue
            searched_position = len(searched)
            searched.append((type, index))
            hits.extend(
                (-score, searched_position, position)
                for score, position in index.search(query_words, query.filters)
            )
        total = len(hits)
        start, end = page * size, (page + 1) * size
        # Without words every hit scores 0 and `hits` is already in collation order.
        ordered = heapq.nsmallest(end, hits) if query_words else hits
        matches = WordMatcher(query_words, self._stemmer) if query_words else None
        results = []
        for offset, (_, searched_position, position) in enumerate(ordered[start:end]):
            type, index = searched[searched_position]
            document = index.documents[position]
            fields = highlight_fields(
                document,
                matches,
                pre_tag=self._pre_tag,
                post_tag=self._post_tag,
            )
            results.append(
                SearchResult(
                    type=type,
                    document=document,
                    rank=start + offset + 1,
                    highlight=ResultHighlight(self._pre_tag, self._post_tag, fields),
                )
            )
        return SearchResultSet(
            results=results,
            number_of_results=total,
            next_page_cursor=encode_page_cursor(page + 1) if total > end else None,
            previous_page_cursor=encode_page_cursor(page - 1) if page > 0 else None,
            unindexed_types=unindexed or None,
        )
