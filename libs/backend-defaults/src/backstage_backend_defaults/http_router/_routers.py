"""The root HTTP router (absolute mounts) and each plugin's router under `/api/<pluginId>`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC
from typing import Any

from backstage_backend_plugin_api import (
    AuthPolicy,
    AuthService,
    BackstageCredentials,
    BackstageNonePrincipal,
    HttpAuthService,
)
from backstage_common.errors import ConflictError, InputError
from litestar import Request, Response, Router, delete, get
from litestar.types import ControllerRouterHandler

from backstage_backend_defaults.http_router._asgi import BackendAsgiApp
from backstage_backend_defaults.http_router._gate import PluginGate
from backstage_backend_defaults.http_router._openapi import OPENAPI_PATH, OpenApiDocument

__all__ = ["PluginHttpRouter", "RootHttpRouter"]

_COOKIE_PATH = "/.backstage/auth/v1/cookie"


class _MountedRouter(Router):
    """A router made for one mount: Litestar deep-copies a router it registers (the caller
    might register it again elsewhere), which copies every handler (about 4% of the backend's
    start-up); these are made here, registered once and never touched again."""

    def __deepcopy__(self, memo: dict[int, object]) -> _MountedRouter:
        return self


def _normalize(path: str) -> str:
    return path.lower().rstrip("/") + "/"


class RootHttpRouter:
    """Mounts handlers at absolute paths of the backend's single Litestar app."""

    def __init__(self, asgi: BackendAsgiApp) -> None:
        self._asgi = asgi
        self._paths: list[str] = []

    @property
    def asgi(self) -> BackendAsgiApp:
        return self._asgi

    def use(self, path: str, *handlers: ControllerRouterHandler) -> None:
        if not path or not path.startswith("/"):
            raise InputError(f"Invalid root router path '{path}', it must start with '/'")
        normalized = _normalize(path)
        for existing in self._paths:
            if normalized.startswith(existing) or existing.startswith(normalized):
                raise ConflictError(f"Path {path} conflicts with the existing path {existing}")
        self._paths.append(normalized)
        self._asgi.app.register(
            _MountedRouter(path=path.rstrip("/") or "/", route_handlers=list(handlers))
        )


class PluginHttpRouter:
    """A plugin's routes at `/api/<pluginId>`, behind its gate and the default auth policy."""

    def __init__(
        self,
        root: RootHttpRouter,
        gate: PluginGate,
        auth: AuthService | None,
        http_auth: HttpAuthService | None = None,
    ) -> None:
        self._root = root
        self._gate = gate
        self._mounted = False
        self._openapi = OpenApiDocument(gate.plugin_id, gate.prefix)
        self.use(self._openapi.route())
        self._gate.add_policy(OPENAPI_PATH, "unauthenticated")
        if auth is not None:
            self._mount_jwks(auth)
        if http_auth is not None:
            self._mount_cookie(http_auth)

    def _mount_jwks(self, auth: AuthService) -> None:
        @get("/.backstage/auth/v1/jwks.json")
        async def jwks() -> dict[str, Any]:
            return await auth.list_public_service_keys()

        self.use(jwks)
        self._gate.add_policy("/.backstage/auth/v1/jwks.json", "unauthenticated")

    def _mount_cookie(self, http_auth: HttpAuthService) -> None:
        """`GET` sets the `backstage-auth` cookie for the calling user (`{"expiresAt"}`),
        `DELETE` clears it."""

        @get(_COOKIE_PATH)
        async def issue_cookie(request: Request[Any, Any, Any]) -> Response[dict[str, str]]:
            credentials: Any = await http_auth.credentials(request, allow=["user"])
            response: Response[dict[str, str]] = Response({})
            expires_at = await http_auth.issue_user_cookie(response, credentials=credentials)
            stamp = expires_at.astimezone(UTC).isoformat(timespec="milliseconds")
            response.content = {"expiresAt": stamp.replace("+00:00", "Z")}
            return response

        @delete(_COOKIE_PATH, status_code=204)
        async def clear_cookie() -> Response[None]:
            response: Response[None] = Response(None, status_code=204)
            none: BackstageCredentials[Any] = BackstageCredentials(BackstageNonePrincipal())
            await http_auth.issue_user_cookie(response, credentials=none)
            return response

        self.use(issue_cookie, clear_cookie)

    def use(self, *handlers: ControllerRouterHandler) -> None:
        if not handlers:
            return
        self._openapi.add_handlers(handlers)
        if not self._mounted:
            self._root.use(self._gate.prefix, *handlers)
            self._mounted = True
            return
        self._root.asgi.app.register(
            _MountedRouter(path=self._gate.prefix, route_handlers=list(handlers))
        )

    def add_auth_policy(self, *, path: str, allow: AuthPolicy) -> None:
        self._gate.add_policy(path, allow)

    def set_openapi_document(
        self, document: Mapping[str, Any] | Callable[[], Mapping[str, Any]]
    ) -> None:
        try:
            self._openapi.set_document(document)
        except ValueError as error:
            raise InputError(f"Plugin '{self._gate.plugin_id}': {error}") from error
