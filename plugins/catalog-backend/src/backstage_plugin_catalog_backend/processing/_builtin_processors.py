"""The default processors, in Backstage's order: placeholders, built-in kinds, the file
and URL location readers, and the location annotations."""

from __future__ import annotations

import asyncio
import glob
import os
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urljoin, urlsplit

import msgspec
from backstage_common.catalog_model import (
    ANNOTATION_EDIT_URL,
    ANNOTATION_LOCATION,
    ANNOTATION_ORIGIN_LOCATION,
    ANNOTATION_SOURCE_LOCATION,
    ANNOTATION_VIEW_URL,
    builtin_kind_schema,
    builtin_relations,
    stringify_entity_ref,
    validate_entity,
)
from backstage_common.errors import InputError, NotAllowedError, NotFoundError
from backstage_plugin_catalog_node import (
    CatalogProcessorEmit,
    CatalogProcessorParser,
    EntityRelationSpec,
    ErrorResult,
    LocationSpec,
    ProcessingResult,
    RefreshResult,
    RelationResult,
)

from backstage_plugin_catalog_backend.processing._entities import join_url
from backstage_plugin_catalog_backend.readers import UrlReaders, parse_yaml_documents

__all__ = [
    "AnnotateLocationProcessor",
    "BuiltinKindsProcessor",
    "FileReaderProcessor",
    "PlaceholderProcessor",
    "has_placeholder",
]

_SORTED_SPEC_ARRAYS = (
    "providesApis",
    "consumesApis",
    "dependsOn",
    "dependencyOf",
    "memberOf",
    "children",
    "members",
)
_COMMIT_SHA = re.compile(r"[0-9a-f]{40}", re.IGNORECASE)
_PLACEHOLDERS = ("$text", "$json", "$yaml")


async def _read_file(path: str) -> bytes:
    def read() -> bytes:
        with open(path, "rb") as handle:
            return handle.read()

    return await asyncio.to_thread(read)


async def _parse(
    parser: CatalogProcessorParser, data: bytes, location: LocationSpec
) -> list[ProcessingResult]:
    """Parse in a worker thread: a catalog file of a few hundred entities takes the YAML
    parser longer than the event loop may be held up."""
    return await asyncio.to_thread(parser, data, location)


async def _emit_all(results: list[ProcessingResult], emit: CatalogProcessorEmit) -> None:
    """Emit `results`, letting the event loop run between every hundred of them."""
    for index, result in enumerate(results, 1):
        emit(result)
        if index % 100 == 0:
            await asyncio.sleep(0)


def _glob_files(pattern: str) -> list[str]:
    paths = sorted(glob.glob(pattern, recursive=True))
    return [os.path.abspath(path) for path in paths if os.path.isfile(path)]


class BuiltinKindsProcessor:
    """Validates the built-in kinds and emits the relations their specs imply."""

    name = "BuiltinKindsEntityProcessor"

    async def validate_entity_kind(self, entity: Mapping[str, Any]) -> bool:
        if builtin_kind_schema(entity) is None:
            return False
        validate_entity(entity)
        return True

    async def pre_process_entity(
        self,
        entity: dict[str, Any],
        location: LocationSpec,
        emit: CatalogProcessorEmit,
        origin_location: LocationSpec,
    ) -> dict[str, Any]:
        spec = entity.get("spec")
        if isinstance(spec, dict):
            for key in _SORTED_SPEC_ARRAYS:
                value = spec.get(key)
                if isinstance(value, list) and all(isinstance(item, str) for item in value):
                    spec[key] = sorted(value)
        return entity

    async def post_process_entity(
        self, entity: dict[str, Any], location: LocationSpec, emit: CatalogProcessorEmit
    ) -> dict[str, Any]:
        for source, kind, target in builtin_relations(entity):
            emit(
                RelationResult(
                    EntityRelationSpec(
                        stringify_entity_ref(source), kind, stringify_entity_ref(target)
                    )
                )
            )
        return entity


class FileReaderProcessor:
    """Reads `file` locations (globs allowed) from the local filesystem."""

    name = "FileReaderProcessor"

    async def read_location(
        self,
        location: LocationSpec,
        optional: bool,
        emit: CatalogProcessorEmit,
        parser: CatalogProcessorParser,
    ) -> bool:
        if location.type != "file":
            return False
        files = await asyncio.to_thread(_glob_files, location.target)
        if not files and not optional:
            emit(ErrorResult(NotFoundError(f"file {location.target} does not exist"), location))
        for path in files:
            data = await _read_file(path)
            await _emit_all(await _parse(parser, data, LocationSpec("file", path)), emit)
        emit(RefreshResult(f"file:{location.target}"))
        return True


class AnnotateLocationProcessor:
    """Default view, edit and source location annotations for entities read from URLs;
    the own and origin location annotations are always present."""

    name = "AnnotateLocationEntityProcessor"

    async def pre_process_entity(
        self,
        entity: dict[str, Any],
        location: LocationSpec,
        emit: CatalogProcessorEmit,
        origin_location: LocationSpec,
    ) -> dict[str, Any]:
        metadata = entity.setdefault("metadata", {})
        defaults = {
            ANNOTATION_LOCATION: str(location),
            ANNOTATION_ORIGIN_LOCATION: str(origin_location),
        }
        if location.type == "url":
            defaults[ANNOTATION_VIEW_URL] = location.target
            if not _COMMIT_SHA.search(location.target):
                defaults[ANNOTATION_EDIT_URL] = location.target
            defaults[ANNOTATION_SOURCE_LOCATION] = f"url:{join_url(location.target, './')}"
        metadata["annotations"] = {**defaults, **(metadata.get("annotations") or {})}
        return entity


def _placeholder_path(reference: str, location_file: str) -> str:
    """The real path of a placeholder of a `file` location: it must stay inside the
    directory of the location's file once `..` and symbolic links are resolved, so a
    catalog file cannot make the catalog serve other files of the machine."""
    if "\x00" in reference:
        raise InputError("Placeholder path may not hold a NUL character")
    if urlsplit(reference).scheme:
        raise NotAllowedError(
            f"Placeholder {reference} of a file location must be a path relative to "
            "the location's directory, not a URL"
        )
    directory = os.path.realpath(os.path.dirname(location_file))
    path = os.path.realpath(os.path.join(directory, reference))
    if os.path.commonpath([directory, path]) != directory:
        raise NotAllowedError(
            f"Placeholder {reference} is outside the directory of the location {location_file}"
        )
    return path


def has_placeholder(value: Any) -> bool:
    """Whether `value` (an entity, or any part of one) holds a `$text`, `$json` or `$yaml`
    placeholder.

    Args:
        value: a JSON value.
    """
    # A walk with a stack of its own: every pass over the catalog asks this of every
    # Location entity, and a generator per node cost more than the rest of its check.
    pending = [value]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            if len(node) == 1 and next(iter(node)) in _PLACEHOLDERS:
                return True
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return False


class PlaceholderProcessor:
    """Replaces `{$text: ref}`, `{$json: ref}` and `{$yaml: ref}` by what `ref` holds,
    read relative to the entity's location and only from the location's own host."""

    name = "PlaceholderProcessor"

    def __init__(self, readers: UrlReaders) -> None:
        self._readers = readers

    async def pre_process_entity(
        self,
        entity: dict[str, Any],
        location: LocationSpec,
        emit: CatalogProcessorEmit,
        origin_location: LocationSpec,
    ) -> dict[str, Any]:
        if not has_placeholder(entity):  # the common case: no coroutine per node
            return entity
        result: dict[str, Any] = await self._walk(entity, location, emit)
        return result

    async def _walk(self, value: Any, location: LocationSpec, emit: CatalogProcessorEmit) -> Any:
        if isinstance(value, list):
            return [await self._walk(item, location, emit) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            [(key, argument)] = value.items()
            if key in _PLACEHOLDERS:
                return await self._resolve(key, argument, location, emit)
        return {key: await self._walk(item, location, emit) for key, item in value.items()}

    async def _read(
        self, reference: str, location: LocationSpec, emit: CatalogProcessorEmit
    ) -> bytes:
        if location.type == "url" or urlsplit(reference).scheme in ("http", "https"):
            base = location.target if location.type == "url" else None
            resolved = urljoin(base, reference) if base else reference
            if base is not None and urlsplit(resolved).netloc != urlsplit(base).netloc:
                raise NotAllowedError(
                    f"Placeholder {reference} may only read from the host of {location}"
                )
            emit(RefreshResult(f"url:{resolved}"))
            return (await self._readers.read_url(resolved)).data
        if location.type == "file":
            path = await asyncio.to_thread(_placeholder_path, reference, location.target)
            emit(RefreshResult(f"file:{path}"))
            try:
                return await _read_file(path)
            except OSError as error:
                raise NotFoundError(
                    f"Placeholder {reference} could not be read, {error.strerror}"
                ) from error
        raise InputError(f"Placeholder {reference} cannot be read from a {location.type} location")

    async def _resolve(
        self, key: str, argument: Any, location: LocationSpec, emit: CatalogProcessorEmit
    ) -> Any:
        if not isinstance(argument, str):
            raise InputError(
                f"Placeholder {key} must be given a string, got {type(argument).__name__}"
            )
        data = await self._read(argument, location, emit)
        if key == "$text":
            try:
                return data.decode()
            except UnicodeDecodeError as error:
                raise InputError(f"Placeholder $text of {argument} is not UTF-8 text") from error
        if key == "$json":
            try:
                return msgspec.json.decode(data)
            except msgspec.DecodeError as error:
                raise InputError(
                    f"Placeholder $json failed to parse {argument}, {error}"
                ) from error
        documents = await asyncio.to_thread(parse_yaml_documents, data, argument)
        if len(documents) != 1:
            raise InputError(
                f"Placeholder $yaml found {len(documents)} documents in {argument}, expected one"
            )
        return documents[0]
