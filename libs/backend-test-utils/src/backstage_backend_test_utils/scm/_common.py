"""What the loopback SCM servers share: request log, rate limits, ETags, pages, serving."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from backstage_backend_defaults.http_router import HttpServer, ListenOptions

from backstage_backend_test_utils.scm._asgi import FakeRequest, FakeResponse, asgi_app, free_port

__all__ = ["RateLimit", "ServerState", "paged", "serve"]


@dataclass
class RateLimit:
    """The next `count` API requests are refused as a rate limit.

    Args:
        count: how many requests to refuse.
        status: 403 (GitHub's primary limit) or 429.
        retry_after: seconds for `Retry-After`; None sends `X-RateLimit-Reset` instead.
        reset_in: seconds until `X-RateLimit-Reset` (with `X-RateLimit-Remaining: 0`).
    """

    count: int = 1
    status: int = 403
    retry_after: float | None = None
    reset_in: float = 1.0

    def response(self) -> FakeResponse:
        headers = {"x-ratelimit-limit": "5000", "x-ratelimit-remaining": "0"}
        headers["x-ratelimit-reset"] = str(int(time.time() + self.reset_in))
        if self.retry_after is not None:
            headers["retry-after"] = str(int(self.retry_after))
        return FakeResponse.json(
            {"message": "API rate limit exceeded", "documentation_url": "https://docs"},
            self.status,
            headers,
        )


@dataclass
class ServerState:
    """Request log and rate limits of a loopback server."""

    base_url: str = ""
    requests: list[tuple[str, str]] = field(default_factory=list)
    """(method, raw path with query) of every request, in order."""
    request_headers: list[dict[str, str]] = field(default_factory=list)
    rate_limits: list[RateLimit] = field(default_factory=list)
    not_modified: int = 0
    """How many requests were answered 304."""

    @property
    def host(self) -> str:
        """The server's `host:port`, as integration configs name it."""
        return self.base_url.split("://", 1)[1]

    def record(self, request: FakeRequest) -> FakeResponse | None:
        query = "&".join(f"{k}={v}" for k, v in request.query.items())
        self.requests.append((request.method, request.raw_path + (f"?{query}" if query else "")))
        self.request_headers.append(request.headers)
        if self.rate_limits:
            limit = self.rate_limits[0]
            limit.count -= 1
            if limit.count <= 0:
                self.rate_limits.pop(0)
            return limit.response()
        return None

    def rate_limit(self, limit: RateLimit) -> None:
        """Refuse the next requests as `limit` says."""
        self.rate_limits.append(limit)

    def reset_log(self) -> None:
        self.requests.clear()
        self.request_headers.clear()
        self.not_modified = 0

    def conditional(self, request: FakeRequest, etag: str, response: FakeResponse) -> FakeResponse:
        """`response` with its ETag, or a 304 when `If-None-Match` names it."""
        if request.headers.get("if-none-match") == etag:
            self.not_modified += 1
            return FakeResponse(304, b"", {"etag": etag})
        response.headers["etag"] = etag
        return response


def paged(
    state: ServerState, request: FakeRequest, items: list[Any]
) -> tuple[list[Any], dict[str, str]]:
    """One page of `items` by `per_page` (default 30) and `page`, with a `Link` header."""
    per_page = max(1, min(100, int(request.query.get("per_page", "30"))))
    page = max(1, int(request.query.get("page", "1")))
    chunk = items[(page - 1) * per_page : page * per_page]
    headers: dict[str, str] = {}
    if page * per_page < len(items):
        query = dict(request.query, page=str(page + 1), per_page=str(per_page))
        link = f"{state.base_url}{request.raw_path}?" + "&".join(
            f"{k}={v}" for k, v in query.items()
        )
        headers["link"] = f'<{link}>; rel="next"'
        headers["x-next-page"] = str(page + 1)
    headers["x-total"] = str(len(items))
    return chunk, headers


StateT = TypeVar("StateT", bound=ServerState)


@asynccontextmanager
async def serve(
    state: StateT, handle: Callable[[StateT, FakeRequest], Awaitable[FakeResponse]]
) -> AsyncIterator[StateT]:
    """Serve `state` on a free port of 127.0.0.1 until the block ends; `state.base_url` is
    the server's.

    Args:
        state: the server's data.
        handle: answers a request from the data.
    """
    port = free_port()
    state.base_url = f"http://127.0.0.1:{port}"

    async def answer(request: FakeRequest) -> FakeResponse:
        return await handle(state, request)

    server = HttpServer(asgi_app(answer), ListenOptions(host="127.0.0.1", port=port))
    await server.start()
    try:
        yield state
    finally:
        await server.stop()
