"""Entity providers: sources that hand the catalog complete sets or deltas of entities."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = [
    "DeferredEntity",
    "DeltaMutation",
    "EntityProvider",
    "EntityProviderConnection",
    "EntityProviderMutation",
    "FullMutation",
    "RemovedEntityRef",
]


@dataclass(frozen=True, slots=True)
class DeferredEntity:
    """An entity to process. It must carry the `backstage.io/managed-by-location` and
    `backstage.io/managed-by-origin-location` annotations. `location_key` decides who owns
    the ref when two sources emit it."""

    entity: dict[str, Any]
    location_key: str | None = None


@dataclass(frozen=True, slots=True)
class RemovedEntityRef:
    """A removal by ref (`kind:namespace/name`) rather than by entity."""

    entity_ref: str
    location_key: str | None = None


@dataclass(frozen=True, slots=True)
class FullMutation:
    """The provider's complete set: anything it emitted before and not now is removed."""

    entities: Sequence[DeferredEntity]


@dataclass(frozen=True, slots=True)
class DeltaMutation:
    """Entities added (or updated) and removed since the last mutation."""

    added: Sequence[DeferredEntity] = ()
    removed: Sequence[DeferredEntity | RemovedEntityRef] = field(default=())


EntityProviderMutation = FullMutation | DeltaMutation


class EntityProviderConnection(Protocol):
    """Given to a provider by `connect`; valid for the lifetime of the catalog."""

    async def apply_mutation(self, mutation: EntityProviderMutation) -> None: ...

    async def refresh(self, keys: Sequence[str]) -> None:
        """Process now the entities that registered any of these refresh keys."""
        ...


class EntityProvider(Protocol):
    """A source of entities; `name` must be unique among providers."""

    @property
    def name(self) -> str: ...

    async def connect(self, connection: EntityProviderConnection) -> None:
        """Called once at startup, before processing begins; keep `connection` to use it."""
        ...
