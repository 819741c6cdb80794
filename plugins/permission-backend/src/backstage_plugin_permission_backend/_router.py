"""The permission plugin's routes: `GET /health` (open) and `POST /authorize` (users, and
plugins on a user's behalf; a service principal gets 403)."""

from __future__ import annotations

from typing import Any

from backstage_backend_plugin_api import HttpAuthService
from backstage_common.json_body import decode_json_body
from backstage_plugin_permission_common import (
    authorize_request_from_json,
    authorize_response_to_json,
)
from litestar import Request, get, post
from litestar.types import ControllerRouterHandler

from backstage_plugin_permission_backend._authorize import Authorizer

__all__ = ["permission_routes"]


def permission_routes(
    authorizer: Authorizer, http_auth: HttpAuthService
) -> list[ControllerRouterHandler]:
    """The handlers of `/api/permission`."""

    @get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @post("/authorize", status_code=200)
    async def authorize(request: Request[Any, Any, Any]) -> dict[str, Any]:
        credentials = await http_auth.credentials(request, allow=["user", "none"])
        items = authorize_request_from_json(decode_json_body(await request.body()))
        return authorize_response_to_json(await authorizer.authorize(items, credentials))

    return [health, authorize]
