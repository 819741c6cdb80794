"""`POST /entities/by-refs`: many entities by ref in one query, in the order asked."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from backstage_backend_plugin_api import HttpAuthService
from backstage_common.errors import InputError
from backstage_plugin_catalog_common import combine_all, parse_entity_filter, parse_predicate
from litestar import Request, Response, post
from litestar.handlers import HTTPRouteHandler

from backstage_plugin_catalog_backend.api._body import read_json_object
from backstage_plugin_catalog_backend.api._fields import parse_fields
from backstage_plugin_catalog_backend.api._params import QueryParams
from backstage_plugin_catalog_backend.api._responses import entity_array, json_response

if TYPE_CHECKING:  # the services import the storage modules of this package
    from backstage_plugin_catalog_backend.service import EntitiesCatalog

__all__ = ["by_refs_routes"]

_MALFORMED = (
    "Malformed request body (did you remember to specify an application/json content type?), "
    "Validation error: "
)


def _strings(body: dict[str, Any], name: str, *, required: bool) -> list[str] | None:
    if name not in body:
        if required:
            raise InputError(f'{_MALFORMED}Required at "{name}"')
        return None
    value = body[name]
    if not isinstance(value, list):
        raise InputError(f'{_MALFORMED}Expected array at "{name}"')
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise InputError(f'{_MALFORMED}Expected string at "{name}[{index}]"')
    return value


def by_refs_routes(catalog: EntitiesCatalog, http_auth: HttpAuthService) -> list[HTTPRouteHandler]:
    @post("/entities/by-refs", status_code=200)
    async def entities_by_ref(request: Request[Any, Any, Any]) -> Response[bytes]:
        params = QueryParams(request, {"filter"})
        filter_predicate = parse_entity_filter(params.all("filter"))
        body = await read_json_object(request) or {}
        refs = _strings(body, "entityRefs", required=True) or []
        fields = _strings(body, "fields", required=False)
        query = body.get("query")
        if query is not None:
            query = parse_predicate(query, _MALFORMED)
        projection = parse_fields(fields or ())
        predicate = combine_all([filter_predicate, query])
        credentials = await http_auth.credentials(request)
        # refs the caller may not read are null, as missing ones are
        found = await catalog.by_refs(refs, predicate, credentials)
        items = entity_array([found.get(ref.lower()) for ref in refs], projection)
        return json_response('{"items":' + items + "}")

    return [entities_by_ref]
