"""Processing one entity: every processor's hooks in order, in memory, no I/O of its own.

The result is either the completed entity with what it emitted (children, relations,
refresh keys) or the errors that stopped it; emitted errors count as failure too, so a
location that could not be read keeps its previous children.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

from backstage_common.catalog_model import (
    ANNOTATION_LOCATION,
    ANNOTATION_ORIGIN_LOCATION,
    validate_entity,
)
from backstage_common.errors import ConflictError, InputError, NotAllowedError
from backstage_plugin_catalog_node import (
    CatalogProcessor,
    EntityKindValidator,
    EntityPostProcessor,
    EntityPreProcessor,
    EntityRelationSpec,
    EntityResult,
    ErrorResult,
    LocationReader,
    LocationResult,
    LocationSpec,
    ProcessingResult,
    RefreshResult,
    RelationResult,
)

from backstage_plugin_catalog_backend.processing._entities import (
    copy_entity,
    entity_location,
    entity_ref,
    location_entity,
    serialize_error,
)
from backstage_plugin_catalog_backend.processing._rules import CatalogRules
from backstage_plugin_catalog_backend.processing._store import Conflict
from backstage_plugin_catalog_backend.readers import parse_entity_yaml

__all__ = ["Child", "Orchestrator", "ProcessingOutcome"]


@dataclass(frozen=True, slots=True)
class Child:
    ref: str
    entity: dict[str, Any]
    location_key: str


@dataclass(slots=True)
class ProcessingOutcome:
    ok: bool
    entity: dict[str, Any]
    children: list[Child] = field(default_factory=list)
    relations: list[EntityRelationSpec] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    refresh_keys: list[str] = field(default_factory=list)
    valid: bool = False
    duplicates: list[Conflict] = field(default_factory=list)
    """Children emitted again from another location key (the first one is kept)."""
    """The entity itself passed validation (errors, if any, came from what it read)."""


def _check_envelope(entity: Mapping[str, Any]) -> None:
    metadata = entity.get("metadata")
    if (
        not isinstance(entity.get("apiVersion"), str)
        or not isinstance(entity.get("kind"), str)
        or not isinstance(metadata, Mapping)
        or not isinstance(metadata.get("name"), str)
    ):
        raise InputError(
            "Malformed entity envelope, apiVersion, kind and metadata.name must be strings"
        )


def _resolve(base: LocationSpec, type_: str, target: str) -> str:
    if type_ == "url" and base.type == "url":
        return urljoin(base.target, target)
    if type_ == "file" and base.type == "file" and not os.path.isabs(target):
        return os.path.normpath(os.path.join(os.path.dirname(base.target), target))
    return target


class _Collector:
    def __init__(self, location: LocationSpec, origin: LocationSpec, self_ref: str) -> None:
        self.location = location
        self.origin = origin
        self.self_ref = self_ref
        self.children: dict[str, Child] = {}
        self.duplicates: list[Conflict] = []
        self.relations: list[EntityRelationSpec] = []
        self.errors: list[BaseException] = []
        self.refresh_keys: list[str] = []
        self.validated = False

    def emit(self, result: ProcessingResult) -> None:
        if isinstance(result, EntityResult):
            self._entity(result.entity, result.location, result.location_key)
        elif isinstance(result, LocationResult):
            entity = location_entity(
                result.location, own=str(self.location), origin=str(self.origin)
            )
            self._entity(entity, self.location, str(result.location))
        elif isinstance(result, RelationResult):
            self.relations.append(result.relation)
        elif isinstance(result, ErrorResult):
            self.errors.append(result.error)
        elif isinstance(result, RefreshResult):
            self.refresh_keys.append(result.key)

    def _entity(self, given: Mapping[str, Any], location: LocationSpec, key: str | None) -> None:
        try:
            _check_envelope(given)
            entity = copy_entity(given)
            ref = entity_ref(entity)
        except InputError as error:
            self.errors.append(error)
            return
        if ref == self.self_ref:
            return
        annotations = dict(entity["metadata"].get("annotations") or {})
        annotations[ANNOTATION_LOCATION] = str(location)
        annotations[ANNOTATION_ORIGIN_LOCATION] = str(self.origin)
        entity["metadata"]["annotations"] = annotations
        child = Child(ref, entity, key or str(location))
        first = self.children.get(ref)
        if first is None:
            self.children[ref] = child
        elif first.location_key != child.location_key:
            self.duplicates.append(Conflict(ref, first.location_key, child.location_key))


class Orchestrator:
    """Runs `processors` over one entity at a time and checks what it emits against the
    catalog rules."""

    def __init__(
        self,
        processors: Sequence[CatalogProcessor],
        rules: CatalogRules,
        *,
        cross_types: Sequence[str] = ("url",),
    ) -> None:
        """`cross_types`: location types a Location entity may read besides its own."""
        self._rules = rules
        self._cross_types = tuple(cross_types)
        # which hooks each processor has, worked out once
        self._pre = [p for p in processors if isinstance(p, EntityPreProcessor)]
        self._validators = [p for p in processors if isinstance(p, EntityKindValidator)]
        self._readers = [p for p in processors if isinstance(p, LocationReader)]
        self._post = [p for p in processors if isinstance(p, EntityPostProcessor)]

    async def process(self, unprocessed: Mapping[str, Any]) -> ProcessingOutcome:
        entity = copy_entity(unprocessed)
        collector: _Collector | None = None
        try:
            _check_envelope(entity)
            ref = entity_ref(entity)
            location = entity_location(entity, ANNOTATION_LOCATION)
            origin = entity_location(entity, ANNOTATION_ORIGIN_LOCATION)
            collector = _Collector(location, origin, ref)
            entity = await self._run(entity, ref, location, origin, collector)
        except Exception as error:  # every failure becomes a status error of this entity
            errors = [*(collector.errors if collector else []), error]
            return ProcessingOutcome(
                False,
                entity,
                errors=[serialize_error(e) for e in errors],
                valid=collector is not None and collector.validated,
            )
        outcome = ProcessingOutcome(
            ok=not collector.errors,
            entity=entity,
            children=list(collector.children.values()),
            relations=collector.relations,
            errors=[serialize_error(error) for error in collector.errors],
            refresh_keys=sorted(set(collector.refresh_keys)),
            valid=True,
            duplicates=collector.duplicates,
        )
        return outcome

    async def _run(
        self,
        entity: dict[str, Any],
        ref: str,
        location: LocationSpec,
        origin: LocationSpec,
        collector: _Collector,
    ) -> dict[str, Any]:
        for pre in self._pre:
            entity = await pre.pre_process_entity(entity, location, collector.emit, origin)
        metadata = entity.setdefault("metadata", {})
        if not metadata.get("namespace"):
            metadata["namespace"] = "default"
        validate_entity(entity)
        if entity_ref(entity) != ref:
            raise ConflictError(
                "Fatal: The entity kind, namespace, or name changed during processing"
            )
        if not await self._kind_is_known(entity):
            raise InputError(
                f"No processor recognized the entity {ref} as valid, possibly caused by a "
                "foreign kind or apiVersion"
            )
        collector.validated = True
        if entity["kind"] == "Location":
            await self._read_targets(entity, location, collector)
        for post in self._post:
            entity = await post.post_process_entity(entity, location, collector.emit)
        for child in collector.children.values():
            if not self._rules.is_allowed(child.entity, origin):
                child_location = child.entity["metadata"]["annotations"][ANNOTATION_LOCATION]
                raise NotAllowedError(
                    f"Entity {child.ref} at {child_location}, originated at {origin}, "
                    "is not of an allowed kind for that location"
                )
        return entity

    async def _kind_is_known(self, entity: dict[str, Any]) -> bool:
        for validator in self._validators:
            if await validator.validate_entity_kind(entity):
                return True
        return False

    async def _read_targets(
        self, entity: dict[str, Any], location: LocationSpec, collector: _Collector
    ) -> None:
        spec = entity.get("spec") or {}
        type_ = spec.get("type") or location.type
        targets = [*([spec["target"]] if spec.get("target") else []), *(spec.get("targets") or [])]
        optional = spec.get("presence") == "optional"
        if type_ != location.type and type_ not in self._cross_types:
            # a file read from a URL may not point the catalog at the local filesystem
            allowed = ", ".join(self._cross_types)
            raise NotAllowedError(
                f"Location entity {entity_ref(entity)} at {location} may not read locations "
                f"of type {type_}; another type than its own must be one of [{allowed}]"
            )
        for target in targets:
            wanted = LocationSpec(type_, _resolve(location, type_, target))
            for reader in self._readers:
                if await reader.read_location(wanted, optional, collector.emit, parse_entity_yaml):
                    break
            else:
                raise InputError(f"No processor was able to handle reading of {wanted}")
