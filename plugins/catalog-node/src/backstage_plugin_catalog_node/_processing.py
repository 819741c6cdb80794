"""Processors: what they receive, what they may emit, and the hooks they may implement."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

__all__ = [
    "CatalogProcessor",
    "CatalogProcessorEmit",
    "CatalogProcessorParser",
    "EntityKindValidator",
    "EntityPostProcessor",
    "EntityPreProcessor",
    "EntityRelationSpec",
    "EntityResult",
    "ErrorResult",
    "LocationReader",
    "LocationResult",
    "LocationSpec",
    "ProcessingResult",
    "RefreshResult",
    "RelationResult",
]

Entity = dict[str, Any]


@dataclass(frozen=True, slots=True)
class LocationSpec:
    """Where entities come from: `type` (`url`, `file`, ...) and a target in that type."""

    type: str
    target: str
    presence: Literal["required", "optional"] = "required"

    def __str__(self) -> str:
        return f"{self.type}:{self.target}"


@dataclass(frozen=True, slots=True)
class EntityRelationSpec:
    """A directed relation between two entity refs (lowercased `kind:namespace/name`)."""

    source: str
    type: str
    target: str


@dataclass(frozen=True, slots=True)
class EntityResult:
    """A child entity read at `location`; `location_key` decides conflicts (default: the
    location's `type:target`)."""

    entity: Entity
    location: LocationSpec
    location_key: str | None = None


@dataclass(frozen=True, slots=True)
class LocationResult:
    """A location to read next; it becomes a child `Location` entity."""

    location: LocationSpec


@dataclass(frozen=True, slots=True)
class RelationResult:
    relation: EntityRelationSpec


@dataclass(frozen=True, slots=True)
class ErrorResult:
    """A processing error; it shows in the status of the entity being processed."""

    error: Exception
    location: LocationSpec


@dataclass(frozen=True, slots=True)
class RefreshResult:
    """A refresh key (e.g. `url:https://host/file.yaml`) for `EntityProviderConnection.refresh`."""

    key: str


ProcessingResult = EntityResult | LocationResult | RelationResult | ErrorResult | RefreshResult
CatalogProcessorEmit = Callable[[ProcessingResult], None]
CatalogProcessorParser = Callable[[bytes, LocationSpec], list[ProcessingResult]]
"""Parses a file's bytes read at a location into entity (or error) results. The built-in
readers call it in a worker thread, off the event loop: it must not touch the loop."""


class CatalogProcessor(Protocol):
    """A processor has a unique `name` and implements any of the hooks below
    (`EntityKindValidator`, `EntityPreProcessor`, `LocationReader`, `EntityPostProcessor`);
    the engine calls each hook a processor has, processors in order."""

    @property
    def name(self) -> str: ...


@runtime_checkable
class EntityKindValidator(Protocol):
    async def validate_entity_kind(self, entity: Mapping[str, Any]) -> bool:
        """True if this processor knows the entity's kind and it is valid; False if the
        kind is not its own; raise if it is its own kind but invalid."""
        ...


@runtime_checkable
class EntityPreProcessor(Protocol):
    async def pre_process_entity(
        self,
        entity: Entity,
        location: LocationSpec,
        emit: CatalogProcessorEmit,
        origin_location: LocationSpec,
    ) -> Entity:
        """Return the entity, possibly changed, before validation."""
        ...


@runtime_checkable
class LocationReader(Protocol):
    async def read_location(
        self,
        location: LocationSpec,
        optional: bool,
        emit: CatalogProcessorEmit,
        parser: CatalogProcessorParser,
    ) -> bool:
        """Read `location` if this processor handles its type and emit what it holds;
        False if the type is not its own."""
        ...


@runtime_checkable
class EntityPostProcessor(Protocol):
    async def post_process_entity(
        self, entity: Entity, location: LocationSpec, emit: CatalogProcessorEmit
    ) -> Entity:
        """Return the entity, possibly changed, after validation; emit relations here."""
        ...
