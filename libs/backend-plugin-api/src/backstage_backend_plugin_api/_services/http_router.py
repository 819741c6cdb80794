"""core.rootHttpRouter and core.httpRouter: mounting routes on the backend's HTTP app."""

from __future__ import annotations

from typing import Literal, Protocol

from litestar.types import ControllerRouterHandler

__all__ = ["AuthPolicy", "HttpRouterService", "RootHttpRouterService"]

AuthPolicy = Literal["unauthenticated", "user-cookie"]


class RootHttpRouterService(Protocol):
    """The backend's HTTP app; `use` mounts handlers at an absolute path."""

    def use(self, path: str, *handlers: ControllerRouterHandler) -> None:
        """Mount `handlers` under `path`; a path that overlaps another mount is refused."""
        ...


class HttpRouterService(Protocol):
    """A plugin's part of the HTTP app, mounted at `/api/<pluginId>`."""

    def use(self, *handlers: ControllerRouterHandler) -> None:
        """Add route handlers, routers or controllers under `/api/<pluginId>`."""
        ...

    def add_auth_policy(self, *, path: str, allow: AuthPolicy) -> None:
        """Let requests under `path` (plugin-relative, a prefix) through without credentials."""
        ...
