"""A man in the middle of the token endpoint, to hand the client ID tokens a real IdP
would never issue (a compromised or misbehaving IdP, or a network attacker without TLS).

`start_token_interposer(idp)` serves the IdP's discovery document with `token_endpoint`
pointing at itself; token requests are forwarded to the real IdP unchanged and its answer
is passed through `tamper` (when set) before the client sees it. Authorization, userinfo
and the JWKS stay the real IdP's.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from backstage_backend_defaults.http_router import HttpServer, ListenOptions
from litestar import Litestar, Request, Response, get, post

__all__ = ["TokenInterposer", "start_token_interposer"]

Tamper = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass
class TokenInterposer:
    """Where the interposer listens, and what it does to token responses."""

    base_url: str = ""
    tamper: Tamper | None = None
    token_responses: list[dict[str, Any]] = field(default_factory=list)
    """What the real IdP answered, before tampering."""

    @property
    def metadata_url(self) -> str:
        return f"{self.base_url}/.well-known/openid-configuration"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _app(state: TokenInterposer, metadata_url: str, http: httpx.AsyncClient) -> Litestar:
    real_token_endpoint: dict[str, str] = {}

    @get("/.well-known/openid-configuration")
    async def discovery() -> dict[str, Any]:
        document: dict[str, Any] = (await http.get(metadata_url)).json()
        real_token_endpoint["url"] = document["token_endpoint"]
        return {**document, "token_endpoint": f"{state.base_url}/token"}

    @post("/token", status_code=200)
    async def token(request: Request[Any, Any, Any]) -> Response[Any]:
        forwarded = {
            name: value
            for name, value in request.headers.items()
            if name in ("authorization", "content-type", "accept")
        }
        answer = await http.post(
            real_token_endpoint["url"], content=await request.body(), headers=forwarded
        )
        body = answer.json()
        if answer.status_code == 200:
            state.token_responses.append(dict(body))
            if state.tamper is not None:
                body = state.tamper(dict(body))
        return Response(body, status_code=answer.status_code)

    return Litestar(route_handlers=[discovery, token], logging_config=None)


@asynccontextmanager
async def start_token_interposer(metadata_url: str) -> AsyncIterator[TokenInterposer]:
    """Serve the interposer in front of the IdP whose discovery document is `metadata_url`."""
    state = TokenInterposer()
    port = _free_port()
    state.base_url = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient() as http:
        server = HttpServer(_app(state, metadata_url, http), ListenOptions("127.0.0.1", port))
        await server.start()
        try:
            yield state
        finally:
            await server.stop()
