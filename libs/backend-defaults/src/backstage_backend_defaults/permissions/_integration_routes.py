"""The routes every plugin that registers permissions serves, as Backstage's permission
integration router: `GET /.well-known/backstage/permissions/metadata` (any authenticated
caller) and `POST /.well-known/backstage/permissions/apply-conditions` (services, and users
only through a plugin acting for them)."""

from __future__ import annotations

from typing import Any

from backstage_backend_plugin_api import BackstageUserPrincipal, HttpAuthService
from backstage_common.errors import NotAllowedError
from backstage_common.json_body import decode_json_body
from backstage_plugin_permission_common import (
    apply_conditions_request_from_json,
    apply_conditions_response_to_json,
)
from litestar import Request, get, post
from litestar.types import ControllerRouterHandler

from backstage_backend_defaults.permissions._registry import DefaultPermissionsRegistryService

__all__ = ["APPLY_CONDITIONS_PATH", "METADATA_PATH", "permission_integration_handlers"]

METADATA_PATH = "/.well-known/backstage/permissions/metadata"
APPLY_CONDITIONS_PATH = "/.well-known/backstage/permissions/apply-conditions"


def permission_integration_handlers(
    registry: DefaultPermissionsRegistryService, http_auth: HttpAuthService
) -> list[ControllerRouterHandler]:
    """The metadata and apply-conditions handlers over a plugin's registry."""

    @get(METADATA_PATH)
    async def metadata(request: Request[Any, Any, Any]) -> dict[str, Any]:
        await http_auth.credentials(request)
        return registry.metadata()

    @post(APPLY_CONDITIONS_PATH, status_code=200)
    async def apply_conditions(request: Request[Any, Any, Any]) -> dict[str, Any]:
        credentials = await http_auth.credentials(request, allow=["user", "service"])
        principal = credentials.principal
        if isinstance(principal, BackstageUserPrincipal) and principal.actor is None:
            raise NotAllowedError(
                "Direct user requests are not allowed: conditions are applied for the "
                "permission backend acting on a user's behalf"
            )
        items = apply_conditions_request_from_json(decode_json_body(await request.body()))
        return apply_conditions_response_to_json(await registry.apply_conditions(items))

    return [metadata, apply_conditions]
