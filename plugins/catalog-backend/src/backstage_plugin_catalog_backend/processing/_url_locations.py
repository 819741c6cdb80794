"""Reading `url` locations: one file, or every file a glob URL matches (through the URL
reader's `search`, as Backstage's UrlReaderProcessor does).

What a read produced is kept in the catalog's cache with the source's ETag (for a glob, the
commit sha). The next pass sends that ETag; a source answering "not modified" (HTTP 304, or
the same commit) costs one request, and the kept entities are emitted again without reading
or parsing anything, so the processing result is unchanged and nothing is written. The
counter `backstage.catalog.url_reads` counts both kinds of read (`result`: `not_modified`,
`full`).

A Location entity whose every read was not modified need not be processed at all: the
processor also keeps, per entity, which inputs (the entity's definition and the version of
each target it read) gave which processing result hash (`recorded`, `remember`).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from backstage_backend_plugin_api import CacheService, JsonValue
from backstage_common.errors import InputError, NotAllowedError, NotFoundError, NotModifiedError
from backstage_plugin_catalog_node import (
    CatalogProcessorEmit,
    CatalogProcessorParser,
    EntityResult,
    ErrorResult,
    LocationSpec,
    ProcessingResult,
    RefreshResult,
)
from opentelemetry import metrics

from backstage_plugin_catalog_backend.readers import UrlReaders

__all__ = ["KnownRead", "UrlReaderProcessor"]

_KEPT_FOR = timedelta(days=7)
_INPUTS_KEPT_FOR = timedelta(days=1)
_CONCURRENT_FILES = 8


@dataclass(slots=True)
class KnownRead:
    """The ETag a location's entity last read from it, sent as it is."""

    etag: str
    emitted: bool = True
    """False after a "not modified" that emitted nothing (what the kept read gave is
    emitted by reading again without a `KnownRead`)."""


def _key(target: str) -> str:
    return "url-reader:" + hashlib.sha256(target.encode()).hexdigest()


def _inputs_key(entity_ref: str) -> str:
    return "url-inputs:" + hashlib.sha256(entity_ref.encode()).hexdigest()


def _kept_results(value: Any, presence: str) -> list[ProcessingResult] | None:
    if not isinstance(value, dict) or not isinstance(value.get("results"), list):
        return None
    results: list[ProcessingResult] = []
    for item in value["results"]:
        if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], dict)):
            return None
        location = LocationSpec(
            "url", str(item[1]), "optional" if presence == "optional" else "required"
        )
        results.append(EntityResult(item[0], location))
    return results


class UrlReaderProcessor:
    """Reads `url` locations through the URL readers, conditionally when it can."""

    name = "url-reader"

    def __init__(self, readers: UrlReaders, cache: CacheService) -> None:
        self._readers = readers
        self._cache = cache
        self.reads: Counter[str] = Counter()
        """Reads so far by result (`not_modified`, `full`)."""
        self._counter = metrics.get_meter("backstage_plugin_catalog_backend").create_counter(
            "backstage.catalog.url_reads",
            description="Reads of url locations, by result (not_modified, full)",
        )

    def _count(self, result: str) -> None:
        self.reads[result] += 1
        self._counter.add(1, {"result": result})

    async def read_location(
        self,
        location: LocationSpec,
        optional: bool,
        emit: CatalogProcessorEmit,
        parser: CatalogProcessorParser,
    ) -> bool:
        if location.type != "url":
            return False
        await self.read_versioned(location, optional, emit, parser)
        return True

    async def recorded(self, entity_ref: str) -> dict[str, Any] | None:
        """What `remember` kept for the entity `entity_ref`, if anything.

        Args:
            entity_ref: the processed entity.
        """
        kept = await self._cache.get(_inputs_key(entity_ref))
        return kept if isinstance(kept, dict) else None

    async def remember(
        self,
        entity_ref: str,
        definition: str,
        inputs: str,
        result_hash: str,
        reads: list[tuple[str, str]],
    ) -> None:
        """Keep that processing `entity_ref` from these inputs gave `result_hash`.

        Args:
            entity_ref: the processed entity.
            definition: the hash of its definition (and the processors and rules).
            inputs: the hash of the definition and the versions it read.
            result_hash: the hash of its successful processing result.
            reads: each target it read, with the version read (the ETags the next pass
                sends without looking up what each read gave).
        """
        value: dict[str, JsonValue] = {
            "definition": definition,
            "inputs": inputs,
            "result": result_hash,
            "reads": [[target, version] for target, version in reads],
        }
        await self._cache.set(_inputs_key(entity_ref), value, ttl=_INPUTS_KEPT_FOR)

    async def read_versioned(
        self,
        location: LocationSpec,
        optional: bool,
        emit: CatalogProcessorEmit,
        parser: CatalogProcessorParser,
        before_parsing: Callable[[], Awaitable[None]] | None = None,
        known: KnownRead | None = None,
    ) -> str | None:
        """Read the `url` location `location` as `read_location` does.

        Args:
            location: the location to read (of type `url`).
            optional: whether a missing file is no error.
            emit: where its entities and errors go.
            parser: the catalog file parser.
            before_parsing: awaited before what a read brought is parsed (a new version).
            known: the ETag this location's entity last read, sent without looking up
                what that read gave: a "not modified" then emits nothing and clears
                `known.emitted`.

        Returns:
            The version (ETag) of what was read and emitted when it was read cleanly,
            else None (an error, nothing found, or a source without ETags).
        """
        emit(RefreshResult(f"url:{location.target}"))
        key = _key(location.target)
        kept_results: list[ProcessingResult] | None = None
        etag: Any = known.etag if known is not None else None
        if known is None:
            kept = await self._cache.get(key)
            kept_results = _kept_results(kept, location.presence)
            has_kept = isinstance(kept, dict) and kept_results is not None
            etag = kept.get("etag") if isinstance(kept, dict) and has_kept else None
        try:
            response = await self._readers.search(
                location.target, etag=etag if isinstance(etag, str) and etag else None
            )
        except NotModifiedError:
            if known is not None:
                self._count("not_modified")
                known.emitted = False
                return known.etag
            if kept_results is None:  # the source matched an etag we did not send
                emit(ErrorResult(InputError(f"Unable to read url {location.target}"), location))
                return None
            self._count("not_modified")
            await _emit_all(kept_results, emit)
            return etag if isinstance(etag, str) and etag else None
        except NotFoundError as error:
            self._not_found(location, optional, emit, str(error))
            return None
        except NotAllowedError as error:
            emit(ErrorResult(error, location))
            return None
        except Exception as error:  # any transport failure is this location's error
            emit(
                ErrorResult(InputError(f"Unable to read url {location.target}, {error}"), location)
            )
            return None
        self._count("full")
        if before_parsing is not None:
            await before_parsing()
        if not response.files:
            self._not_found(location, optional, emit, "no file matched")
            return None
        try:
            results = await self._parse_files(response.files, location, parser)
        except Exception as error:
            emit(
                ErrorResult(InputError(f"Unable to read url {location.target}, {error}"), location)
            )
            return None
        await _emit_all(results, emit)
        return await self._keep(key, response.etag, results)

    def _not_found(
        self, location: LocationSpec, optional: bool, emit: CatalogProcessorEmit, why: str
    ) -> None:
        if not optional:
            message = f"Unable to read url, no matching files found for {location.target}; {why}"
            emit(ErrorResult(NotFoundError(message), location))

    async def _parse_files(
        self, files: list[Any], location: LocationSpec, parser: CatalogProcessorParser
    ) -> list[ProcessingResult]:
        limit = asyncio.Semaphore(_CONCURRENT_FILES)

        async def one(file: Any) -> list[ProcessingResult]:
            async with limit:
                data = await file.content()
            spec = LocationSpec("url", file.url, location.presence)
            return await asyncio.to_thread(parser, data, spec)

        parsed = await asyncio.gather(*(one(file) for file in files))
        return [result for results in parsed for result in results]

    async def _keep(self, key: str, etag: str, results: list[ProcessingResult]) -> str | None:
        # Only a clean read is kept: a file with errors is read (and reported) again.
        if not etag or not all(isinstance(r, EntityResult) for r in results):
            await self._cache.delete(key)
            return None
        value: list[JsonValue] = [
            [cast(JsonValue, r.entity), r.location.target]
            for r in results
            if isinstance(r, EntityResult)
        ]
        await self._cache.set(key, {"etag": etag, "results": value}, ttl=_KEPT_FOR)
        return etag


async def _emit_all(results: list[ProcessingResult], emit: CatalogProcessorEmit) -> None:
    for index, result in enumerate(results, 1):
        emit(result)
        if index % 100 == 0:
            await asyncio.sleep(0)
