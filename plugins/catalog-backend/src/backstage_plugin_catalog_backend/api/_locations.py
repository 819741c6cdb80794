"""Location endpoints: `/locations`, `/locations/by-query`, `/locations/{id}` and
`/locations/by-entity/{kind}/{namespace}/{name}`."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec
from backstage_backend_plugin_api import HttpAuthService
from backstage_common.errors import InputError, NotAllowedError, NotFoundError
from backstage_plugin_catalog_common import parse_predicate
from backstage_plugin_catalog_node import LocationSpec
from litestar import Request, Response, delete, get, post, put
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath

from backstage_plugin_catalog_backend.api._body import read_json_body
from backstage_plugin_catalog_backend.api._input import MAX_INTEGER, decode_json, has_nul
from backstage_plugin_catalog_backend.api._location_query import location_predicate

if TYPE_CHECKING:  # the services import the storage modules of this package
    from backstage_plugin_catalog_backend.service import LocationService

__all__ = ["LocationRoutesOptions", "json_response", "location_routes"]

_JSON = "application/json; charset=utf-8"
AnyRequest = Request[Any, Any, Any]


@dataclass(frozen=True, slots=True)
class LocationRoutesOptions:
    readonly: bool = False
    refresh_on_conflict: bool = False


def json_response(body: Any, status: int = 200) -> Response[bytes]:
    return Response(msgspec.json.encode(body), status_code=status, media_type=_JSON)


def _spec(body: dict[str, Any]) -> tuple[str, str, str | None]:
    type_, target, presence = body.get("type"), body.get("target"), body.get("presence")
    if not isinstance(type_, str) or not isinstance(target, str) or not type_ or not target:
        raise InputError("Malformed request: type and target must be non-empty strings")
    unknown = set(body) - {"type", "target", "presence"}
    if unknown:
        raise InputError(f"Malformed request: unknown keys {sorted(unknown)}")
    if presence is not None and presence not in ("required", "optional"):
        raise InputError("Malformed request: presence must be required or optional")
    return type_, target, presence


def _check_id(location_id: str) -> None:
    """No location id holds a NUL, and the database refuses one in a parameter."""
    if has_nul(location_id):
        raise NotFoundError(f"Found no location with ID {location_id}")


def _page_request(body: dict[str, Any]) -> tuple[int, str | None, Any]:
    if "cursor" not in body:
        limit, after_id, query = body.get("limit", 1000), None, body.get("query")
    else:
        try:
            cursor = decode_json(base64.b64decode(str(body["cursor"])), "cursor")
            limit, after_id, query = cursor["limit"], cursor["afterId"], cursor.get("query")
        except Exception as error:
            raise InputError(f"Malformed cursor: {error}") from error
        if not isinstance(after_id, str):
            raise InputError("Malformed cursor: afterId must be a string")
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_INTEGER:
        raise InputError(f"Invalid limit, must be from 1 to {MAX_INTEGER}")
    # a cursor's query is checked as the same query given fresh
    if query is not None:
        query = parse_predicate(query, "Invalid query: ")
    return limit, after_id, query


class _Locations:
    def __init__(
        self, service: LocationService, options: LocationRoutesOptions, http_auth: HttpAuthService
    ) -> None:
        self.service = service
        self.options = options
        self.http_auth = http_auth

    def check_writable(self) -> None:
        if self.options.readonly:
            raise NotAllowedError("This operation not allowed in readonly mode")

    async def add(self, request: AnyRequest) -> Response[bytes]:
        dry_run = request.query_params.get("dryRun", "false").lower() == "true"
        on_conflict = request.query_params.get("onConflict")
        if on_conflict not in (None, "refresh", "reject"):
            raise InputError("Invalid onConflict parameter, must be refresh or reject")
        type_, target, presence = _spec(await read_json_body(request))
        credentials = await self.http_auth.credentials(request)
        if dry_run:
            spec = LocationSpec(type_, target, "optional" if presence == "optional" else "required")
            result = await self.service.dry_run(spec, presence=presence, credentials=credentials)
            body = {"exists": result.exists, "location": result.location}
            return json_response({**body, "entities": result.entities}, 201)
        self.service.check_type(type_, target)
        self.check_writable()
        refresh = on_conflict == "refresh" or (
            on_conflict is None and self.options.refresh_on_conflict
        )
        row = await self.service.create(
            LocationSpec(type_, target),
            on_conflict="refresh" if refresh else "reject",
            credentials=credentials,
        )
        return json_response({"location": row.to_json(), "entities": []}, 201)

    async def query(self, request: AnyRequest) -> Response[bytes]:
        raw = await request.body()
        body = decode_json(raw, "request body") if raw.strip() else {}
        if not isinstance(body, dict):
            raise InputError("Expected body to be a JSON object")
        limit, after_id, query = _page_request(body)
        where = location_predicate(query) if query is not None else None
        # one row more than the page tells whether there is a next one (within 32 bits)
        credentials = await self.http_auth.credentials(request)
        rows, total = await self.service.query(
            where, after_id, min(limit + 1, MAX_INTEGER), credentials
        )
        page = rows[:limit]
        page_info: dict[str, str] = {}
        if len(rows) > limit:
            cursor = {"limit": limit, "afterId": page[-1].id, "query": query}
            page_info["nextCursor"] = base64.b64encode(msgspec.json.encode(cursor)).decode()
        items = [row.to_json() for row in page]
        return json_response({"items": items, "totalItems": total, "pageInfo": page_info})


def location_routes(
    service: LocationService, options: LocationRoutesOptions, http_auth: HttpAuthService
) -> list[HTTPRouteHandler]:
    """The location endpoints, over the location service, for the caller `http_auth` reads
    from each request."""
    api = _Locations(service, options, http_auth)

    @get("/locations")
    async def list_locations(request: AnyRequest) -> Response[bytes]:
        rows = await service.list_all(await http_auth.credentials(request))
        return json_response([{"data": row.to_json()} for row in rows])

    @post("/locations")
    async def add_location(request: AnyRequest) -> Response[bytes]:
        return await api.add(request)

    @post("/locations/by-query", status_code=200)
    async def query_locations(request: AnyRequest) -> Response[bytes]:
        return await api.query(request)

    @get("/locations/{location_id:str}")
    async def get_location(location_id: FromPath[str], request: AnyRequest) -> Response[bytes]:
        _check_id(location_id)
        credentials = await http_auth.credentials(request)
        return json_response((await service.get(location_id, credentials)).to_json())

    @put("/locations/{location_id:str}")
    async def update_location(location_id: FromPath[str], request: AnyRequest) -> Response[bytes]:
        api.check_writable()
        _check_id(location_id)
        type_, target, _ = _spec(await read_json_body(request))
        credentials = await http_auth.credentials(request)
        row = await service.update(location_id, type_, target, credentials)
        return json_response(row.to_json())

    @delete("/locations/{location_id:str}")
    async def delete_location(location_id: FromPath[str], request: AnyRequest) -> None:
        api.check_writable()
        _check_id(location_id)
        await service.delete(location_id, await http_auth.credentials(request))

    @get("/locations/by-entity/{kind:str}/{namespace:str}/{name:str}")
    async def location_by_entity(
        kind: FromPath[str], namespace: FromPath[str], name: FromPath[str], request: AnyRequest
    ) -> Response[bytes]:
        if has_nul(f"{kind}{namespace}{name}"):
            raise NotFoundError(
                f"No entity named '{name}' found, with kind '{kind}' in namespace '{namespace}'"
            )
        credentials = await http_auth.credentials(request)
        row = await service.by_entity(kind, namespace, name, credentials)
        return json_response(row.to_json())

    return [
        list_locations,
        add_location,
        query_locations,
        get_location,
        update_location,
        delete_location,
        location_by_entity,
    ]
