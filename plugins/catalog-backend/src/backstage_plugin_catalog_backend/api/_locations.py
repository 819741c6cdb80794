"""Location endpoints, `POST /refresh`, `POST /validate-entity` and `POST /analyze-location`."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import msgspec
import sqlalchemy as sa
from backstage_common.catalog_model import (
    ANNOTATION_LOCATION,
    ANNOTATION_ORIGIN_LOCATION,
    parse_location_ref,
)
from backstage_common.errors import InputError, NotAllowedError, NotFoundError
from backstage_plugin_catalog_node import LocationAnalyzer, LocationSpec
from litestar import Request, Response, delete, get, post, put
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath

from backstage_plugin_catalog_backend._tables import final_entities
from backstage_plugin_catalog_backend.api._body import read_json_object
from backstage_plugin_catalog_backend.api._location_query import location_predicate
from backstage_plugin_catalog_backend.processing import (
    CatalogProcessingEngine,
    location_entity_ref,
    serialize_error,
)
from backstage_plugin_catalog_backend.providers import LocationStore

__all__ = ["DefaultLocationAnalyzer", "LocationRoutesOptions", "location_routes"]

_JSON = "application/json; charset=utf-8"
AnyRequest = Request[Any, Any, Any]


@dataclass(frozen=True, slots=True)
class LocationRoutesOptions:
    readonly: bool = False
    allowed_types: tuple[str, ...] = ("url",)
    refresh_on_conflict: bool = False


def _json(body: Any, status: int = 200) -> Response[bytes]:
    return Response(msgspec.json.encode(body), status_code=status, media_type=_JSON)


def _spec(body: dict[str, Any]) -> tuple[str, str, str | None]:
    type_, target, presence = body.get("type"), body.get("target"), body.get("presence")
    unknown = set(body) - {"type", "target", "presence"}
    if not isinstance(type_, str) or not isinstance(target, str) or not type_ or not target:
        raise InputError("Malformed request: type and target must be non-empty strings")
    if unknown:
        raise InputError(f"Malformed request: unknown keys {sorted(unknown)}")
    if presence is not None and presence not in ("required", "optional"):
        raise InputError("Malformed request: presence must be required or optional")
    return type_, target, presence


def location_routes(
    engine: CatalogProcessingEngine,
    store: LocationStore,
    analyzer: LocationAnalyzer,
    options: LocationRoutesOptions,
) -> list[HTTPRouteHandler]:
    def check_writable() -> None:
        if options.readonly:
            raise NotAllowedError("This operation not allowed in readonly mode")

    def check_type(type_: str) -> None:
        if type_ not in options.allowed_types:
            allowed = ",".join(f'"{t}"' for t in options.allowed_types)
            raise InputError(f"Registered locations must be of an allowed type [{allowed}]")

    @get("/locations")
    async def list_locations() -> Response[bytes]:
        return _json([{"data": row.to_json()} for row in await store.list_all()])

    @post("/locations")
    async def add_location(request: AnyRequest) -> Response[bytes]:
        dry_run = request.query_params.get("dryRun", "false").lower() == "true"
        on_conflict = request.query_params.get("onConflict")
        type_, target, presence = _spec(await read_json_object(request))
        check_type(type_)
        if on_conflict not in (None, "refresh", "reject"):
            raise InputError("Invalid onConflict parameter, must be refresh or reject")
        refresh = on_conflict == "refresh" or (on_conflict is None and options.refresh_on_conflict)
        spec = LocationSpec(type_, target, "optional" if presence == "optional" else "required")
        existing = await store.find_by_spec(type_, target)
        if dry_run:
            entities = await engine.dry_run(spec)
            location: dict[str, Any] = {
                "type": type_,
                "target": target,
                "id": f"{type_}:{target}",
                "entityRef": location_entity_ref(spec),
            }
            if presence:
                location["presence"] = presence
            body = {"exists": existing is not None, "location": location, "entities": entities}
            return _json(body, 201)
        check_writable()
        if existing is not None and refresh:
            await store.refresh(existing)
            return _json({"location": existing.to_json(), "entities": []}, 201)
        row = await store.create(type_, target)
        return _json({"location": row.to_json(), "entities": []}, 201)

    @post("/locations/by-query", status_code=200)
    async def query_locations(request: AnyRequest) -> Response[bytes]:
        raw = await request.body()
        body = msgspec.json.decode(raw) if raw else {}
        if not isinstance(body, dict):
            raise InputError("Expected body to be a JSON object")
        after_id: str | None = None
        if "cursor" in body:
            try:
                cursor = msgspec.json.decode(base64.b64decode(str(body["cursor"])))
                limit, after_id, query = cursor["limit"], cursor["afterId"], cursor.get("query")
            except Exception as error:
                raise InputError(f"Malformed cursor: {error}") from error
        else:
            limit, query = body.get("limit", 1000), body.get("query")
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise InputError("Invalid limit, must be at least 1")
        where = location_predicate(query) if query is not None else None
        rows, total = await store.query(where, after_id, limit + 1)
        page = rows[:limit]
        page_info: dict[str, str] = {}
        if len(rows) > limit:
            cursor_json = {"limit": limit, "afterId": page[-1].id, "query": query}
            page_info["nextCursor"] = base64.b64encode(msgspec.json.encode(cursor_json)).decode()
        return _json(
            {"items": [row.to_json() for row in page], "totalItems": total, "pageInfo": page_info}
        )

    @get("/locations/{location_id:str}")
    async def get_location(location_id: FromPath[str]) -> Response[bytes]:
        return _json((await store.get(location_id)).to_json())

    @put("/locations/{location_id:str}")
    async def update_location(location_id: FromPath[str], request: AnyRequest) -> Response[bytes]:
        check_writable()
        type_, target, _ = _spec(await read_json_object(request))
        check_type(type_)
        return _json((await store.update(location_id, type_, target)).to_json())

    @delete("/locations/{location_id:str}")
    async def delete_location(location_id: FromPath[str]) -> None:
        check_writable()
        await store.delete(location_id)

    @get("/locations/by-entity/{kind:str}/{namespace:str}/{name:str}")
    async def location_by_entity(
        kind: FromPath[str], namespace: FromPath[str], name: FromPath[str]
    ) -> Response[bytes]:
        ref = f"{kind}:{namespace}/{name}".lower()
        async with engine.transaction() as connection:
            text = await connection.scalar(
                sa.select(final_entities.c.final_entity).where(final_entities.c.entity_ref == ref)
            )
        if not text:
            raise NotFoundError(
                f"No entity named '{name}' found, with kind '{kind}' in namespace '{namespace}'"
            )
        annotations = (msgspec.json.decode(text).get("metadata") or {}).get("annotations") or {}
        origin = annotations.get(ANNOTATION_ORIGIN_LOCATION)
        if not isinstance(origin, str):
            raise NotFoundError(f"Entity {ref} has no origin location")
        type_, target = parse_location_ref(origin)
        row = await store.find_by_spec(type_, target)
        if row is None:
            raise NotFoundError(f"Found no location with type {type_} and target {target}")
        return _json(row.to_json())

    @post("/refresh", status_code=200)
    async def refresh(request: AnyRequest) -> Response[bytes]:
        body = await read_json_object(request)
        ref = body.get("entityRef")
        if not isinstance(ref, str) or set(body) - {"entityRef", "authorizationToken"}:
            raise InputError("Malformed request: expected {entityRef: string}")
        await engine.refresh_now([ref])
        return Response(b"", status_code=200)

    @post("/validate-entity", status_code=200)
    async def validate_entity(request: AnyRequest) -> Response[bytes]:
        body = await read_json_object(request)
        entity, location = body.get("entity"), body.get("location")
        if not isinstance(entity, dict) or not isinstance(location, str):
            return _json(
                {
                    "errors": [
                        serialize_error(
                            InputError(
                                "Malformed request: expected {entity: object, location: string}"
                            )
                        )
                    ]
                },
                400,
            )
        try:
            type_, _ = parse_location_ref(location)
            if type_ != "url":
                raise InputError(
                    f"Invalid location ref {location}, only 'url:<target>' is supported, "
                    "e.g. url:https://host/path"
                )
        except InputError as error:
            return _json({"errors": [serialize_error(error)]}, 400)
        metadata = entity.get("metadata")
        if isinstance(metadata, dict):
            annotations = dict(metadata.get("annotations") or {})
            annotations[ANNOTATION_LOCATION] = location
            annotations[ANNOTATION_ORIGIN_LOCATION] = location
            metadata["annotations"] = annotations
        outcome = await engine.orchestrator.process(entity)
        if not outcome.ok:
            return _json({"errors": outcome.errors}, 400)
        return Response(b"", status_code=200)

    @post("/analyze-location", status_code=200)
    async def analyze_location(request: AnyRequest) -> Response[bytes]:
        body = await read_json_object(request)
        location = body.get("location")
        filename = body.get("catalogFilename")
        if not isinstance(location, dict) or not isinstance(location.get("target"), str):
            raise InputError("Malformed request: expected {location: {type, target}}")
        if filename is not None and not isinstance(filename, str):
            raise InputError("Malformed request: catalogFilename must be a string")
        return _json(await analyzer.analyze_location(location, filename))

    return [
        list_locations,
        add_location,
        query_locations,
        get_location,
        update_location,
        delete_location,
        location_by_entity,
        refresh,
        validate_entity,
        analyze_location,
    ]


class DefaultLocationAnalyzer:
    """Suggests one Component named after the repository, with its project-slug annotation."""

    _SLUG_HOSTS = ("github.com", "gitlab.com", "bitbucket.org", "dev.azure.com")

    async def analyze_location(
        self, location: dict[str, Any], catalog_filename: str | None
    ) -> dict[str, Any]:
        parts = urlsplit(location["target"])
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InputError("The given location.target is not a URL")
        segments = [segment for segment in parts.path.split("/") if segment]
        owner, repo = (segments + ["", ""])[:2]
        name = (repo or owner or parts.hostname).removesuffix(".git")
        metadata: dict[str, Any] = {"name": name}
        host = next((h for h in self._SLUG_HOSTS if parts.hostname.endswith(h)), None)
        if host and owner and repo:
            metadata["annotations"] = {f"{host}/project-slug": f"{owner}/{name}"}
        entity = {
            "apiVersion": "backstage.io/v1alpha1",
            "kind": "Component",
            "metadata": metadata,
            "spec": {"type": "other", "lifecycle": "unknown"},
        }
        return {"existingEntityFiles": [], "generateEntities": [{"entity": entity, "fields": []}]}
