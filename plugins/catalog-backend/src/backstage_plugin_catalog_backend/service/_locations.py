"""`LocationService`: what `/locations` does, over the location store, as the caller's
permissions allow (Backstage's `DefaultLocationService` and `AuthorizedLocationService`).

The location permissions are basic ones: reading denied lists nothing and finds nothing
(404), writing denied is a 403 before anything is read or written."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import msgspec
import sqlalchemy as sa
from backstage_backend_plugin_api import BackstageCredentials
from backstage_common.catalog_model import ANNOTATION_ORIGIN_LOCATION, parse_location_ref
from backstage_common.errors import InputError, NotFoundError
from backstage_plugin_catalog_common import (
    catalog_location_create_permission,
    catalog_location_delete_permission,
    catalog_location_read_permission,
)
from backstage_plugin_catalog_node import LocationSpec

from backstage_plugin_catalog_backend.permissions import CatalogPermissions
from backstage_plugin_catalog_backend.processing import Orchestrator, dry_run, location_entity_ref
from backstage_plugin_catalog_backend.providers import LocationRow, LocationStore
from backstage_plugin_catalog_backend.readers import parse_fetch_url
from backstage_plugin_catalog_backend.service._refresh import RefreshService

__all__ = ["DryRun", "LocationService"]

Credentials = BackstageCredentials[Any]


@dataclass(frozen=True, slots=True)
class DryRun:
    """What registering a location would do: whether it exists, and the entities it has."""

    exists: bool
    location: dict[str, Any]
    entities: list[dict[str, Any]]


class LocationService:
    """Registered locations: create (or dry-run), list, get, update, delete, find by entity
    and query, for the caller whose credentials are given. Every database call runs on the
    request pool (the store's)."""

    def __init__(
        self,
        store: LocationStore,
        refresh: RefreshService,
        orchestrator: Orchestrator,
        permissions: CatalogPermissions,
        allowed_types: tuple[str, ...] = ("url",),
    ) -> None:
        self._permissions = permissions
        self._store = store
        self._refresh = refresh
        self._orchestrator = orchestrator
        self._allowed_types = allowed_types

    def check_type(self, type_: str, target: str) -> None:
        """Raises `InputError` unless locations of `type_` may be registered and `target`
        is valid for it."""
        if type_ not in self._allowed_types:
            allowed = ",".join(f'"{t}"' for t in self._allowed_types)
            raise InputError(f"Registered locations must be of an allowed type [{allowed}]")
        if type_ == "url":
            parse_fetch_url(target)  # an ambiguous host is the caller's error: 400

    async def create(
        self,
        spec: LocationSpec,
        *,
        on_conflict: Literal["refresh", "reject"] = "reject",
        credentials: Credentials,
    ) -> LocationRow:
        """Register `spec`; when it is registered already, `refresh` processes it again
        and returns it, `reject` raises `ConflictError`."""
        await self._permissions.require(catalog_location_create_permission, credentials)
        self.check_type(spec.type, spec.target)
        existing = await self._store.find_by_spec(spec.type, spec.target)
        if existing is not None and on_conflict == "refresh":
            await self._refresh.refresh([existing.entity_ref])
            return existing
        return await self._store.create(spec.type, spec.target)

    async def dry_run(
        self, spec: LocationSpec, *, presence: str | None, credentials: Credentials
    ) -> DryRun:
        """Process `spec` in memory: the entities registering it would add; nothing is
        written. The caller needs the permission to register it."""
        await self._permissions.require(catalog_location_create_permission, credentials)
        self.check_type(spec.type, spec.target)
        existing = await self._store.find_by_spec(spec.type, spec.target)
        entities = await dry_run(self._orchestrator, spec)
        location: dict[str, Any] = {
            "type": spec.type,
            "target": spec.target,
            "id": f"{spec.type}:{spec.target}",
            "entityRef": location_entity_ref(spec),
        }
        if presence:
            location["presence"] = presence
        return DryRun(existing is not None, location, entities)

    async def _may_read(self, credentials: Credentials) -> bool:
        return await self._permissions.allowed(catalog_location_read_permission, credentials)

    async def list_all(self, credentials: Credentials) -> list[LocationRow]:
        """Every location; none when the caller may not read locations."""
        if not await self._may_read(credentials):
            return []
        return await self._store.list_all()

    async def get(self, id_: str, credentials: Credentials) -> LocationRow:
        """One location; `NotFoundError` also when the caller may not read locations."""
        if not await self._may_read(credentials):
            raise NotFoundError(f"Found no location with ID {id_}")
        return await self._store.get(id_)

    async def update(
        self, id_: str, type_: str, target: str, credentials: Credentials
    ) -> LocationRow:
        """Change a location's type and target; its `entityRef` stays (as in Backstage).
        The caller needs the permission to register locations."""
        await self._permissions.require(catalog_location_create_permission, credentials)
        self.check_type(type_, target)
        return await self._store.update(id_, type_, target)

    async def delete(self, id_: str, credentials: Credentials) -> None:
        """Remove a location (and what it brought in)."""
        await self._permissions.require(catalog_location_delete_permission, credentials)
        await self._store.delete(id_)

    async def query(
        self,
        where: sa.ColumnElement[bool] | None,
        after_id: str | None,
        limit: int,
        credentials: Credentials,
    ) -> tuple[list[LocationRow], int]:
        """Up to `limit` locations matching `where` after `after_id`, and how many match;
        none when the caller may not read locations."""
        if not await self._may_read(credentials):
            return [], 0
        return await self._store.query(where, after_id, limit)

    async def by_entity(
        self, kind: str, namespace: str, name: str, credentials: Credentials
    ) -> LocationRow:
        """The registered location an entity came from (its origin location);
        `NotFoundError` also when the caller may not read locations."""
        ref = f"{kind}:{namespace}/{name}".lower()
        if not await self._may_read(credentials):
            raise NotFoundError(f"Found no location for entity {ref}")
        text = await self._store.final_entity(ref)
        if not text:
            raise NotFoundError(
                f"No entity named '{name}' found, with kind '{kind}' in namespace '{namespace}'"
            )
        annotations = (msgspec.json.decode(text).get("metadata") or {}).get("annotations") or {}
        origin = annotations.get(ANNOTATION_ORIGIN_LOCATION)
        if not isinstance(origin, str):
            raise NotFoundError(f"Entity {ref} has no origin location")
        type_, target = parse_location_ref(origin)
        row = await self._store.find_by_spec(type_, target)
        if row is None:
            raise NotFoundError(f"Found no location with type {type_} and target {target}")
        return row
