"""What the HTTP router calls for each request when something observes the requests."""

from __future__ import annotations

from typing import Any, Protocol, TypeAlias

from backstage_backend_defaults.instrumentation import HookPoint

__all__ = ["REQUEST_HOOKS", "RequestHooks", "RequestSpan", "StartedRequest"]


class RequestSpan(Protocol):
    """The span of one request, as the router uses it."""

    @property
    def log_json(self) -> bytes:
        """The span's ids as members of a JSON object, for the request's log line."""
        ...

    def record_exception(self, exception: BaseException) -> None:
        """Record an exception escaping the app.

        Args:
            exception: The exception.
        """
        ...


StartedRequest: TypeAlias = tuple[RequestSpan | None, Any]
"""A started request: its span (None when it has none) and what `end` needs besides."""


class RequestHooks(Protocol):
    """Called at the start and the end of every request; both are on the hot path."""

    def start(self, scope: Any, plugin_id: str | None) -> StartedRequest:
        """A request starts.

        Args:
            scope: The request's ASGI scope.
            plugin_id: The plugin its path belongs to, if any.
        """
        ...

    def end(
        self,
        started: StartedRequest,
        scope: Any,
        status: int,
        duration: float,
        plugin_id: str | None,
    ) -> None:
        """A request ends (its log line is written).

        Args:
            started: What `start` returned.
            scope: The request's ASGI scope (with Litestar's `path_template` once routed).
            status: The response's status code.
            duration: Seconds from the start.
            plugin_id: The plugin its path belongs to, if any.
        """
        ...


REQUEST_HOOKS: HookPoint[RequestHooks] = HookPoint("httpRouter.requests")
"""Where request hooks are registered; the root HTTP router reads it when it is created."""
