"""Indexing: one scheduled task per document type, feeding the engine in batches."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from backstage_backend_plugin_api import (
    LoggerService,
    SchedulerService,
    SchedulerServiceTaskScheduleDefinition,
)
from backstage_common.errors import ConflictError, InputError
from backstage_plugin_permission_common import Permission
from backstage_plugin_search_node import (
    DocumentCollatorFactory,
    DocumentDecoratorFactory,
    IndexableDocument,
    SearchEngine,
    SearchEngineIndexer,
)

from backstage_plugin_search_backend._authorized import visibility_permission_of

__all__ = ["IndexRegistry", "IndexingAbortedError", "SearchIndexService", "index_task_id"]

_REQUIRED_FIELDS = ("title", "text", "location")


def index_task_id(type: str) -> str:
    """Backstage's task id: `search_index_` and the type with its first `-` made `_`."""
    return ("search_index_" + type.replace("-", "_", 1)).lower()


@dataclass(frozen=True)
class _Collator:
    factory: DocumentCollatorFactory
    schedule: SchedulerServiceTaskScheduleDefinition


class IndexRegistry:
    """The `search.index.registry` extension point: what modules add before the plugin
    starts."""

    def __init__(self) -> None:
        self.collators: dict[str, _Collator] = {}
        self.decorators: list[DocumentDecoratorFactory] = []

    def add_collator(
        self,
        *,
        factory: DocumentCollatorFactory,
        schedule: SchedulerServiceTaskScheduleDefinition,
    ) -> None:
        if not factory.type:
            raise InputError("A search collator needs a non-empty type")
        if factory.type in self.collators:
            raise ConflictError(f"A collator for the type '{factory.type}' is already registered")
        self.collators[factory.type] = _Collator(factory, schedule)

    def add_decorator(self, factory: DocumentDecoratorFactory) -> None:
        self.decorators.append(factory)


class IndexingAbortedError(Exception):
    """The scheduler aborted the run (timeout or shutdown)."""


class SearchIndexService:
    """Schedules a task per collator; each run replaces its type's index, or keeps the old
    one when anything fails."""

    def __init__(
        self,
        *,
        engine: SearchEngine,
        registry: IndexRegistry,
        scheduler: SchedulerService,
        logger: LoggerService,
    ) -> None:
        self._engine = engine
        self._collators = dict(registry.collators)
        self._decorators = list(registry.decorators)
        self._scheduler = scheduler
        self._logger = logger

    def document_types(self) -> list[str]:
        return list(self._collators)

    def visibility_permissions(self) -> dict[str, Permission]:
        """The visibility permission of each type whose collator declares one."""
        return {
            type: permission
            for type, collator in self._collators.items()
            if (permission := visibility_permission_of(collator.factory)) is not None
        }

    async def start(self) -> None:
        for type, collator in self._collators.items():
            schedule = collator.schedule
            if not self._engine.index_is_shared:
                # Each replica holds its own index, so each replica must build it.
                schedule = dataclasses.replace(schedule, scope="local")

            async def run(abort: asyncio.Event, type: str = type) -> None:
                await self.run(type, abort)

            await self._scheduler.schedule_task(id=index_task_id(type), fn=run, schedule=schedule)

    def _documents(self, type: str) -> AsyncIterator[IndexableDocument]:
        documents = self._collators[type].factory.collate()
        for decorator in self._decorators:
            if decorator.types is None or type in decorator.types:
                documents = decorator.decorate(documents)
        return documents

    def _valid(self, document: object) -> bool:
        return isinstance(document, dict) and all(
            isinstance(document.get(key), str) for key in _REQUIRED_FIELDS
        )

    async def _feed(
        self, type: str, indexer: SearchEngineIndexer, abort: asyncio.Event
    ) -> tuple[int, int]:
        batch: list[IndexableDocument] = []
        indexed = skipped = 0
        async for document in self._documents(type):
            if abort.is_set():
                raise IndexingAbortedError(f"Indexing of type '{type}' was aborted")
            if not self._valid(document):
                skipped += 1
                continue
            batch.append(document)
            if len(batch) >= self._engine.batch_size:
                await indexer.index(batch)
                indexed += len(batch)
                batch = []
        if batch:
            await indexer.index(batch)
            indexed += len(batch)
        if abort.is_set():
            raise IndexingAbortedError(f"Indexing of type '{type}' was aborted")
        return indexed, skipped

    async def _discard(self, type: str, indexer: SearchEngineIndexer) -> None:
        try:
            await asyncio.shield(indexer.abort())
        except Exception as error:
            # Whatever was left is never made live; the next successful run removes it.
            self._logger.warn(f"Could not discard the unfinished index of '{type}': {error}")

    async def run(self, type: str, abort: asyncio.Event) -> None:
        """One indexing run of `type`; raises (after logging) when it fails."""
        started = time.monotonic()
        indexer = await self._engine.get_indexer(type)
        try:
            indexed, skipped = await self._feed(type, indexer, abort)
            await indexer.finalize()
        except BaseException as error:
            await self._discard(type, indexer)
            self._logger.error(
                f"Indexing of type '{type}' failed, the previous index is kept: {error}",
                error if isinstance(error, Exception) else None,
            )
            raise
        if skipped:
            self._logger.warn(
                f"Skipped {skipped} documents of type '{type}' without a string title, "
                "text and location"
            )
        self._logger.info(
            f"Indexed {indexed} documents of type '{type}' in {time.monotonic() - started:.2f}s"
        )
