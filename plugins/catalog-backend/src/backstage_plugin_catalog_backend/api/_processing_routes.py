"""`POST /refresh`, `POST /validate-entity` and `POST /analyze-location`."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from backstage_backend_plugin_api import HttpAuthService
from backstage_common.catalog_model import (
    ANNOTATION_LOCATION,
    ANNOTATION_ORIGIN_LOCATION,
    parse_location_ref,
)
from backstage_common.errors import InputError
from backstage_plugin_catalog_common import (
    catalog_entity_validate_permission,
    catalog_location_analyze_permission,
)
from backstage_plugin_catalog_node import LocationAnalyzer
from litestar import Request, Response, post
from litestar.handlers import HTTPRouteHandler

from backstage_plugin_catalog_backend.api._body import read_json_body
from backstage_plugin_catalog_backend.api._locations import json_response
from backstage_plugin_catalog_backend.permissions import CatalogPermissions
from backstage_plugin_catalog_backend.processing import Orchestrator, serialize_error
from backstage_plugin_catalog_backend.service import RefreshService

__all__ = ["DefaultLocationAnalyzer", "processing_routes"]

AnyRequest = Request[Any, Any, Any]
_SLUG_HOSTS = ("github.com", "gitlab.com", "bitbucket.org", "dev.azure.com")


class DefaultLocationAnalyzer:
    """Suggests one Component named after the repository, with its project-slug annotation."""

    async def analyze_location(
        self, location: dict[str, Any], catalog_filename: str | None
    ) -> dict[str, Any]:
        try:
            parts = urlsplit(location["target"])
        except ValueError:  # e.g. an unclosed IPv6 bracket
            raise InputError("The given location.target is not a URL") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InputError("The given location.target is not a URL")
        segments = [segment for segment in parts.path.split("/") if segment]
        owner, repo = [*segments, "", ""][:2]
        name = (repo or owner or parts.hostname).removesuffix(".git")
        metadata: dict[str, Any] = {"name": name}
        host = next((h for h in _SLUG_HOSTS if parts.hostname.endswith(h)), None)
        if host and owner and repo:
            metadata["annotations"] = {f"{host}/project-slug": f"{owner}/{name}"}
        entity = {
            "apiVersion": "backstage.io/v1alpha1",
            "kind": "Component",
            "metadata": metadata,
            "spec": {"type": "other", "lifecycle": "unknown"},
        }
        return {"existingEntityFiles": [], "generateEntities": [{"entity": entity, "fields": []}]}


def _validation_input(body: dict[str, Any]) -> dict[str, Any]:
    """The entity to validate, with both location annotations set to the given location."""
    entity, location = body.get("entity"), body.get("location")
    if not isinstance(entity, dict) or not isinstance(location, str):
        raise InputError("Malformed request: expected {entity: object, location: string}")
    type_, _ = parse_location_ref(location)
    if type_ != "url":
        raise InputError(
            f"Invalid location ref {location}, only 'url:<target>' is supported, "
            "e.g. url:https://host/path"
        )
    metadata = entity.get("metadata")
    if isinstance(metadata, dict):
        annotations = dict(metadata.get("annotations") or {})
        annotations[ANNOTATION_LOCATION] = location
        annotations[ANNOTATION_ORIGIN_LOCATION] = location
        metadata["annotations"] = annotations
    return entity


def processing_routes(
    refresh_service: RefreshService,
    orchestrator: Orchestrator,
    analyzer: LocationAnalyzer,
    permissions: CatalogPermissions,
    http_auth: HttpAuthService,
) -> list[HTTPRouteHandler]:
    """`/refresh` (`catalog.entity.refresh` for the entity, checked by the refresh service),
    `/validate-entity` and `/analyze-location` (their basic permissions)."""

    @post("/refresh", status_code=200)
    async def refresh(request: AnyRequest) -> Response[bytes]:
        body = await read_json_body(request)
        ref = body.get("entityRef")
        if not isinstance(ref, str) or set(body) - {"entityRef", "authorizationToken"}:
            raise InputError("Malformed request: expected {entityRef: string}")
        await refresh_service.refresh_entity(ref, await http_auth.credentials(request))
        return Response(b"", status_code=200)

    @post("/validate-entity", status_code=200)
    async def validate_entity(request: AnyRequest) -> Response[bytes]:
        credentials = await http_auth.credentials(request)
        await permissions.require(catalog_entity_validate_permission, credentials)
        try:
            entity = _validation_input(await read_json_body(request))
        except InputError as error:
            return json_response({"errors": [serialize_error(error)]}, 400)
        outcome = await orchestrator.process(entity)
        if not outcome.ok:
            return json_response({"errors": outcome.errors}, 400)
        return Response(b"", status_code=200)

    @post("/analyze-location", status_code=200)
    async def analyze_location(request: AnyRequest) -> Response[bytes]:
        credentials = await http_auth.credentials(request)
        await permissions.require(catalog_location_analyze_permission, credentials)
        body = await read_json_body(request)
        location, filename = body.get("location"), body.get("catalogFilename")
        if not isinstance(location, dict) or not isinstance(location.get("target"), str):
            raise InputError("Malformed request: expected {location: {type, target}}")
        if filename is not None and not isinstance(filename, str):
            raise InputError("Malformed request: catalogFilename must be a string")
        return json_response(await analyzer.analyze_location(location, filename))

    return [refresh, validate_entity, analyze_location]
