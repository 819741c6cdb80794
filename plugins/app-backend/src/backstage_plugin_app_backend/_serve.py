"""The app's routes: bundle files, and `index.html` for every other path (the SPA fallback)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from backstage_common.errors import NotFoundError
from litestar import Request, Response, get
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath

from backstage_plugin_app_backend._bundle import NO_STORE, Bundle, BundleFile

__all__ = ["AppRoutes", "preferred_coding"]

_FRAME = {"x-frame-options": "DENY"}


def preferred_coding(accept_encoding: str, available: Sequence[str]) -> str | None:
    """The content coding to send among `available` (in the server's order of preference),
    or None for the file as it is: the client's highest `q`, ties to the server's order."""
    weights: dict[str, float] = {}
    for part in accept_encoding.split(","):
        name, _, params = part.strip().partition(";")
        name = name.strip().lower()
        if not name:
            continue
        weight = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        weights[name] = weight
    best: str | None = None
    best_weight = 0.0
    for coding in available:
        weight = weights.get(coding, weights.get("*", 0.0))
        if weight > best_weight:
            best, best_weight = coding, weight
    return best


def _read(path: Any) -> bytes:
    with open(path, "rb") as file:
        return file.read()


class AppRoutes:
    """Serves `bundle`: `index` is the rendered page with the frontend config."""

    def __init__(self, bundle: Bundle, index: bytes, public_path: str) -> None:
        self._bundle = bundle
        self._index = index
        self._public_path = public_path

    def handlers(self) -> list[HTTPRouteHandler]:
        @get("/", include_in_schema=False)
        async def root() -> Response[bytes]:
            return self._page()

        @get("/{rest:path}", include_in_schema=False)
        async def anything(rest: FromPath[str], request: Request[Any, Any, Any]) -> Response[bytes]:
            return await self.serve(rest, request)

        return [root, anything]

    def _page(self) -> Response[bytes]:
        return Response(
            self._index,
            media_type="text/html",
            headers={"cache-control": NO_STORE, **_FRAME},
        )

    async def serve(self, path: str, request: Request[Any, Any, Any]) -> Response[bytes]:
        if self._public_path:
            if path == self._public_path:
                return self._page()
            if path.startswith(self._public_path + "/"):
                path = path[len(self._public_path) :]
        if path == "/index.html":
            return self._page()
        entry = self._bundle.files.get(path)
        if entry is not None:
            return await self._file(entry, request)
        if path.startswith("/static/") or path == "/static":
            # A missing asset is a 404, never the page: a stale chunk must fail loudly.
            raise NotFoundError(f"No such asset: {path}")
        return self._page()

    async def _file(self, entry: BundleFile, request: Request[Any, Any, Any]) -> Response[bytes]:
        headers = {"cache-control": entry.cache_control, "etag": entry.etag, **_FRAME}
        if entry.variants:
            headers["vary"] = "Accept-Encoding"
        if entry.etag in request.headers.get("if-none-match", ""):
            return Response(b"", status_code=304, headers=headers)
        path = entry.path
        coding = preferred_coding(request.headers.get("accept-encoding", ""), list(entry.variants))
        if coding is not None:
            path = entry.variants[coding]
            headers["content-encoding"] = coding
        content = await asyncio.to_thread(_read, path)
        return Response(content, media_type=entry.content_type, headers=headers)
