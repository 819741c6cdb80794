"""core.rootHttpRouter and core.httpRouter: mounting routes on the backend's HTTP app."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal, Protocol

from litestar.types import ControllerRouterHandler

__all__ = ["AuthPolicy", "HttpRouterService", "RootHttpRouterService"]

AuthPolicy = Literal["unauthenticated", "user-cookie"]
"""How a path may be reached without a bearer token: by anyone (`unauthenticated`), or
with the user cookie (`user-cookie`)."""


class RootHttpRouterService(Protocol):
    """The backend's HTTP app; `use` mounts handlers at an absolute path."""

    def use(self, path: str, *handlers: ControllerRouterHandler) -> None:
        """Mount route handlers under an absolute path.

        Args:
            path: the mount path, e.g. `/api/catalog`; one that overlaps another mount is
                refused.
            handlers: Litestar route handlers, routers or controllers.
        """
        ...


class HttpRouterService(Protocol):
    """A plugin's part of the HTTP app, mounted at `/api/<pluginId>`."""

    def use(self, *handlers: ControllerRouterHandler) -> None:
        """Add routes under `/api/<pluginId>`; every route requires credentials unless an
        auth policy lets it through.

        Args:
            handlers: Litestar route handlers, routers or controllers.
        """
        ...

    def add_auth_policy(self, *, path: str, allow: AuthPolicy) -> None:
        """Let requests through without a bearer token.

        Args:
            path: a plugin-relative path prefix, e.g. `/static`.
            allow: who may call it then (see `AuthPolicy`).
        """
        ...

    def set_openapi_document(
        self, document: Mapping[str, Any] | Callable[[], Mapping[str, Any]]
    ) -> None:
        """Serve this OpenAPI document at `/api/<pluginId>/openapi.json` (open to all, its
        paths prefixed with the plugin's mount path, as Backstage serves them). Without
        one, the backend serves a document generated from the plugin's routes.

        Args:
            document: an OpenAPI 3 document whose paths are relative to the plugin, e.g.
                the plugin's committed `openapi.yaml`, parsed; or a function that returns
                it, called on the first request for the document instead of at start-up
                (its document is checked then).
        """
        ...
