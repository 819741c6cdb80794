"""The search engine interface: build an index per document type, and query it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from backstage_plugin_search_node._documents import (
    IndexableDocument,
    SearchQuery,
    SearchResultSet,
)

__all__ = ["SearchEngine", "SearchEngineIndexer"]


class SearchEngineIndexer(Protocol):
    """One indexing run of one type. Documents come in batches; nothing is visible to
    queries until `finalize`, which replaces the type's index in one step."""

    async def index(self, documents: Sequence[IndexableDocument]) -> None: ...

    async def finalize(self) -> None:
        """Make the new index live. With no document at all the previous index, if any,
        is kept (a source that suddenly lists nothing is more likely broken than empty)."""
        ...

    async def abort(self) -> None:
        """Discard the run; the previous index keeps answering."""
        ...


class SearchEngine(Protocol):
    @property
    def index_is_shared(self) -> bool:
        """True when every replica reads the same index (a database): one replica indexes
        for all. False for an index kept in each process: every replica indexes."""
        ...

    @property
    def batch_size(self) -> int:
        """How many documents `SearchEngineIndexer.index` receives at a time."""
        ...

    async def get_indexer(self, type: str) -> SearchEngineIndexer: ...

    async def query(self, query: SearchQuery) -> SearchResultSet:
        """One page of results. InputError for a query the engine cannot take (a bad
        cursor); a type with no index yet is listed in `unindexed_types`, not an error."""
        ...
