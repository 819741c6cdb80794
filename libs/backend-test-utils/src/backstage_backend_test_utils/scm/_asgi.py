"""A tiny ASGI layer for the loopback SCM servers: they route on the raw path, since GitLab's
API puts `%2F`-encoded project paths in one segment."""

from __future__ import annotations

import json
import socket
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote

__all__ = ["FakeRequest", "FakeResponse", "asgi_app", "free_port"]


@dataclass
class FakeRequest:
    method: str
    raw_path: str
    """Percent-encoded, as sent."""
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    @property
    def segments(self) -> list[str]:
        """The path's segments, each decoded once."""
        return [unquote(s) for s in self.raw_path.split("/") if s]

    def bearer(self) -> str | None:
        """The token of `Authorization: Bearer|token <t>` or `PRIVATE-TOKEN`."""
        value = self.headers.get("authorization", "")
        scheme, _, token = value.partition(" ")
        if scheme.lower() in ("bearer", "token") and token:
            return token.strip()
        return self.headers.get("private-token") or None


@dataclass
class FakeResponse:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(
        cls, value: Any, status: int = 200, headers: Mapping[str, str] | None = None
    ) -> FakeResponse:
        return cls(
            status,
            json.dumps(value).encode(),
            {"content-type": "application/json; charset=utf-8", **(headers or {})},
        )


Handler = Callable[[FakeRequest], Awaitable[FakeResponse]]


def asgi_app(handle: Handler) -> Callable[..., Awaitable[None]]:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        raw = scope.get("raw_path") or scope["path"].encode()
        raw_path = raw.decode("latin-1").split("?", 1)[0]
        query = {
            key: values[-1]
            for key, values in parse_qs(scope.get("query_string", b"").decode()).items()
        }
        headers = {k.decode().lower(): v.decode("latin-1") for k, v in scope["headers"]}
        request = FakeRequest(scope["method"], raw_path, query, headers, body)
        response = await handle(request)
        await send(
            {
                "type": "http.response.start",
                "status": response.status,
                "headers": [(k.encode(), v.encode()) for k, v in response.headers.items()],
            }
        )
        await send({"type": "http.response.body", "body": response.body})

    return app


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
