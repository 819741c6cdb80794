"""Single entities: by uid, by name, their ancestry, and deletion by uid."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec
from backstage_backend_plugin_api import HttpAuthService
from backstage_common.errors import NotFoundError
from litestar import Request, Response, delete, get
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath

from backstage_plugin_catalog_backend.api._input import has_nul
from backstage_plugin_catalog_backend.api._params import QueryParams
from backstage_plugin_catalog_backend.api._responses import json_response

if TYPE_CHECKING:  # the services import the storage modules of this package
    from backstage_plugin_catalog_backend.service import EntitiesCatalog

__all__ = ["single_routes"]
_encode = msgspec.json.encode


def single_routes(catalog: EntitiesCatalog, http_auth: HttpAuthService) -> list[HTTPRouteHandler]:
    @get("/entities/by-uid/{uid:str}")
    async def get_by_uid(request: Request[Any, Any, Any], uid: FromPath[str]) -> Response[bytes]:
        QueryParams(request, ())
        # No stored key holds a NUL, and the database refuses one in a parameter.
        credentials = await http_auth.credentials(request)
        text = None if has_nul(uid) else await catalog.by_uid(uid, credentials)
        if text is None:
            raise NotFoundError(f"No entity with uid {uid}")
        return json_response(text)

    @delete("/entities/by-uid/{uid:str}", status_code=204)
    async def delete_by_uid(request: Request[Any, Any, Any], uid: FromPath[str]) -> None:
        QueryParams(request, ())
        credentials = await http_auth.credentials(request)
        if has_nul(uid):
            return
        await catalog.delete(uid, credentials)

    @get("/entities/by-name/{kind:str}/{namespace:str}/{name:str}")
    async def get_by_name(
        request: Request[Any, Any, Any],
        kind: FromPath[str],
        namespace: FromPath[str],
        name: FromPath[str],
    ) -> Response[bytes]:
        QueryParams(request, ())
        ref = f"{kind}:{namespace}/{name}".lower()
        credentials = await http_auth.credentials(request)
        text = None if has_nul(ref) else await catalog.by_ref(ref, credentials)
        if text is None:
            raise NotFoundError(
                f"No entity named '{name}' found, with kind '{kind}' in namespace '{namespace}'"
            )
        return json_response(text)

    @get("/entities/by-name/{kind:str}/{namespace:str}/{name:str}/ancestry")
    async def get_ancestry(
        request: Request[Any, Any, Any],
        kind: FromPath[str],
        namespace: FromPath[str],
        name: FromPath[str],
    ) -> Response[bytes]:
        QueryParams(request, ())
        root_ref = f"{kind}:{namespace}/{name}".lower()
        if has_nul(root_ref):
            raise NotFoundError(f"No such entity {root_ref}")
        items = await catalog.ancestry(root_ref, await http_auth.credentials(request))
        body = ",".join(
            '{"entity":' + text + ',"parentEntityRefs":' + _encode(parents).decode() + "}"
            for _, text, parents in items
        )
        root = _encode(root_ref).decode()
        return json_response('{"rootEntityRef":' + root + ',"items":[' + body + "]}")

    return [get_by_uid, delete_by_uid, get_by_name, get_ancestry]
