"""Each plugin's OpenAPI document at `/api/<pluginId>/openapi.json`.

A plugin that ships its own document (Backstage keeps one per plugin, `src/schema/openapi.yaml`)
hands it to its router; the others get one that Litestar generates from the plugin's routes.
Either way the paths are served prefixed with the plugin's mount path, as Backstage's
`createValidatedOpenApiRouter` serves them, so a client can call them against the backend's
root URL.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

from litestar import Litestar, Router, get
from litestar.openapi import OpenAPIConfig
from litestar.types import ControllerRouterHandler

__all__ = ["OPENAPI_PATH", "OpenApiDocument"]

OPENAPI_PATH = "/openapi.json"

# Backstage's error body, which the backend's single error handler renders for every 4xx/5xx.
_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "message": {"type": "string"}},
            "required": ["name", "message"],
        },
        "request": {
            "type": "object",
            "properties": {"method": {"type": "string"}, "url": {"type": "string"}},
        },
        "response": {
            "type": "object",
            "properties": {"statusCode": {"type": "integer"}},
            "required": ["statusCode"],
        },
    },
    "required": ["error", "response"],
}
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


class OpenApiDocument:
    """One plugin's document: the one it set, or one generated from its routes on demand."""

    def __init__(self, plugin_id: str, prefix: str) -> None:
        self._plugin_id = plugin_id
        self._prefix = prefix
        self._handlers: list[ControllerRouterHandler] = []
        self._given: dict[str, Any] | None = None
        self._load: Callable[[], Mapping[str, Any]] | None = None
        self._served: dict[str, Any] | None = None

    def add_handlers(self, handlers: tuple[ControllerRouterHandler, ...]) -> None:
        self._handlers.extend(handlers)
        self._served = None

    def set_document(self, document: Mapping[str, Any] | Callable[[], Mapping[str, Any]]) -> None:
        """The plugin's own document, or what loads it on the first request for it (parsing
        a large document is start-up time that only a client of the spec needs)."""
        if callable(document):
            self._given = None
            self._load = document
        else:
            self._given = _checked(document)
            self._load = None
        self._served = None

    def render(self) -> dict[str, Any]:
        """The document as served (computed once per change of routes or document)."""
        if self._served is None:
            if self._load is not None:
                self._given = _checked(self._load())
                self._load = None
            given = self._given
            self._served = self._prefixed(given) if given is not None else self._generated()
        return self._served

    def route(self) -> ControllerRouterHandler:
        """`GET /openapi.json` for the plugin's router."""

        @get(OPENAPI_PATH, include_in_schema=False, sync_to_thread=False)
        def openapi_document() -> dict[str, Any]:
            return self.render()

        return openapi_document

    def _prefixed(self, document: dict[str, Any]) -> dict[str, Any]:
        served = dict(document)
        served["paths"] = {self._prefix + path: item for path, item in document["paths"].items()}
        return served

    def _generated(self) -> dict[str, Any]:
        # A throwaway app over the same handlers: Litestar's schema generation needs an app,
        # and the backend's own app holds every plugin's routes (and has no OpenAPI config).
        app = Litestar(
            route_handlers=[Router(path=self._prefix, route_handlers=list(self._handlers))],
            openapi_config=OpenAPIConfig(
                title=self._plugin_id, version="1", path="/.openapi-generator"
            ),
            logging_config=None,
        )
        document = app.openapi_schema.to_schema()
        for item in document.get("paths", {}).values():
            for method in _METHODS:
                operation = item.get(method)
                if isinstance(operation, dict):
                    _backstage_error_responses(operation)
        return document


def _checked(document: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a plugin's document, once it looks like one."""
    paths = document.get("paths")
    if not isinstance(document.get("openapi"), str) or not isinstance(paths, Mapping):
        raise ValueError("An OpenAPI document needs an 'openapi' version and 'paths'")
    return copy.deepcopy(dict(document))


def _backstage_error_responses(operation: dict[str, Any]) -> None:
    """Litestar documents its own validation error body; ours is Backstage's."""
    responses = operation.setdefault("responses", {})
    responses.pop("400", None)
    responses["default"] = {
        "description": "An error, in Backstage's error body",
        "content": {"application/json": {"schema": _ERROR_SCHEMA}},
    }
