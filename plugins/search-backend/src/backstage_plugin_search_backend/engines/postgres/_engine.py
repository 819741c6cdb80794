"""The Postgres engine: `tsvector` bodies with a GIN index, `ts_rank`, `ts_headline`.

Each indexing run writes its documents under a new generation number, batch by batch,
invisible to queries; `finalize` points the type at that generation in one transaction and
only then removes the older generations.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec
import sqlalchemy as sa
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
from sqlalchemy.ext.asyncio import AsyncEngine

from backstage_plugin_search_backend.engines.postgres._options import PgOptions
from backstage_plugin_search_backend.engines.postgres._sql import query_statement
from backstage_plugin_search_backend.engines.postgres._tsquery import to_tsquery_text

__all__ = ["MIGRATIONS", "PostgresSearchEngine"]

MIGRATIONS = Path(__file__).parent / "migrations" / "versions"
_HIGHLIGHTED = ("title", "text", "location")
_INSERT = """
    WITH items AS (
        SELECT CAST(:generation AS bigint) AS generation,
               CAST(:start AS integer) + CAST(item.ordinality AS integer) AS position,
               CAST(:type AS text) AS type,
               CAST(item.text AS jsonb) AS document
        FROM unnest(CAST(:texts AS text[])) WITH ORDINALITY AS item(text, ordinality)
    ), stored AS (
        INSERT INTO search_documents (generation, position, type, document)
        SELECT generation, position, type, document FROM items
    )
    INSERT INTO search_terms (generation, position, type, body, filter_document)
    SELECT generation, position, type, search_document_body(document),
           search_filter_document(document)
    FROM items
"""
_TABLES = ("search_terms", "search_documents")


class _PostgresIndexer:
    def __init__(self, engine: PostgresSearchEngine, type: str) -> None:
        self._engine = engine
        self._type = type
        self._generation: int | None = None
        self._count = 0

    async def _new_generation(self) -> int:
        if self._generation is None:
            async with self._engine.database.begin() as connection:
                result = await connection.execute(sa.text("SELECT nextval('search_generations')"))
                self._generation = int(result.scalar_one())
        return self._generation

    async def index(self, documents: Sequence[IndexableDocument]) -> None:
        if not documents:
            return
        generation = await self._new_generation()
        texts = [msgspec.json.encode(document).decode() for document in documents]
        async with self._engine.database.begin() as connection:
            await connection.execute(
                sa.text(_INSERT),
                {
                    "generation": generation,
                    "start": self._count,
                    "type": self._type,
                    "texts": texts,
                },
            )
        self._count += len(texts)

    async def finalize(self) -> None:
        if self._count == 0 and await self._engine.has_index(self._type):
            self._engine.logger.warn(
                f"Index for {self._type} was not replaced: the run found no documents"
            )
            return
        generation = await self._new_generation()
        async with self._engine.database.begin() as connection:
            swapped = await connection.execute(
                sa.text(
                    "INSERT INTO search_indices (type, generation, document_count, indexed_at)"
                    " VALUES (:type, :generation, :count, now())"
                    " ON CONFLICT (type) DO UPDATE SET generation = excluded.generation,"
                    " document_count = excluded.document_count, indexed_at = excluded.indexed_at"
                    " WHERE search_indices.generation < excluded.generation"
                    " RETURNING generation"
                ),
                {"type": self._type, "generation": generation, "count": self._count},
            )
            live = swapped.scalar_one_or_none() is not None
        async with self._engine.database.begin() as connection:
            # Older generations (the previous index, runs that died) once swapped; this
            # run's own rows when a later run has already swapped its index in.
            condition = (
                "type = :type AND generation < :generation"
                if live
                else ("generation = :generation")
            )
            for table in _TABLES:
                await connection.execute(
                    sa.text(f"DELETE FROM {table} WHERE {condition}"),
                    {"type": self._type, "generation": generation},
                )

    async def abort(self) -> None:
        if self._generation is None:
            return
        async with self._engine.database.begin() as connection:
            for table in _TABLES:
                await connection.execute(
                    sa.text(f"DELETE FROM {table} WHERE generation = :generation"),
                    {"generation": self._generation},
                )


class PostgresSearchEngine:
    """Full-text search in the search plugin's own Postgres database; every replica reads
    the same index, so one replica indexes for all."""

    def __init__(self, database: AsyncEngine, logger: LoggerService, options: PgOptions) -> None:
        self.database = database
        self.logger = logger
        self._options = options
        tag = uuid.uuid4()
        self._pre_tag = f"<{tag}>"
        self._post_tag = f"</{tag}>"
        self._headline_options = options.headline_options(self._pre_tag, self._post_tag)

    @property
    def index_is_shared(self) -> bool:
        return True

    @property
    def batch_size(self) -> int:
        return self._options.batch_size

    async def get_indexer(self, type: str) -> _PostgresIndexer:
        return _PostgresIndexer(self, type)

    async def has_index(self, type: str) -> bool:
        return bool(await self._indexed_types([type]))

    async def _indexed_types(self, types: Sequence[str]) -> set[str]:
        async with self.database.connect() as connection:
            result = await connection.execute(
                sa.text("SELECT type FROM search_indices WHERE type = ANY(:types)"),
                {"types": list(types)},
            )
            return {row[0] for row in result}

    def _highlight(self, row: Any) -> ResultHighlight:
        fields: dict[str, str] = {}
        if hasattr(row, "title_headline"):
            for name in _HIGHLIGHTED:
                value = getattr(row, f"{name}_headline")
                if value and self._pre_tag in value:
                    fields[name] = value
        return ResultHighlight(self._pre_tag, self._post_tag, fields)

    async def query(self, query: SearchQuery) -> SearchResultSet:
        page = decode_page_cursor(query.page_cursor)
        size = page_size(query.page_limit)
        tsquery = to_tsquery_text(query.term)
        types = list(query.types)
        params: dict[str, Any] = {"types": types, "offset": page * size, "limit": size + 1}
        if tsquery is not None:
            params.update(tsquery=tsquery, normalization=self._options.normalization)
            if self._options.use_highlight:
                params["headline_options"] = self._headline_options
        statement = query_statement(
            has_term=tsquery is not None,
            highlight=self._options.use_highlight,
            filters=query.filters,
            params=params,
        )
        async with self.database.connect() as connection:
            # One statement, no transaction around it: a single round trip.
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            answer = (await autocommit.execute(sa.text(statement), params)).all()
        indexed = set(answer[0].indexed_types)
        rows = [row for row in answer if row.position is not None]
        total = int(rows[0].total) if rows else 0
        results = [
            SearchResult(
                type=row.type,
                document=row.document,
                rank=page * size + offset + 1,
                highlight=self._highlight(row),
            )
            for offset, row in enumerate(rows[:size])
        ]
        unindexed = [type for type in types if type not in indexed]
        return SearchResultSet(
            results=results,
            number_of_results=total,
            next_page_cursor=encode_page_cursor(page + 1) if len(rows) > size else None,
            previous_page_cursor=encode_page_cursor(page - 1) if page > 0 else None,
            unindexed_types=unindexed or None,
        )
