"""The benchmark's plugin `bench` and the config of the framework server."""

from __future__ import annotations

from typing import Any

from backstage_backend_plugin_api import (
    BackendPlugin,
    PluginRegistrationPoints,
    create_backend_plugin,
)
from backstage_backend_plugin_api import core_services as core
from litestar import get
from litestar.handlers import HTTPRouteHandler

__all__ = ["PING_BODY", "PUBLIC_PATH", "bench_plugin", "framework_config", "route_handlers"]

PING_BODY = {"status": "ok", "service": "bench"}
PUBLIC_PATH = "/public/ping"


def route_handlers() -> list[HTTPRouteHandler]:
    """`GET /ping` and `GET /public/ping`, both answering a small JSON body."""

    @get("/ping")
    async def ping() -> dict[str, str]:
        return PING_BODY

    @get(PUBLIC_PATH)
    async def public_ping() -> dict[str, str]:
        return PING_BODY

    return [ping, public_ping]


def _register(env: PluginRegistrationPoints) -> None:
    async def init(router: core.HttpRouter) -> None:
        router.use(*route_handlers())
        router.add_auth_policy(path=PUBLIC_PATH, allow="unauthenticated")

    env.register_init(init)


def bench_plugin() -> BackendPlugin:
    """Plugin `bench`: `/api/bench/ping` needs credentials, `/api/bench/public/ping` not."""
    return create_backend_plugin(plugin_id="bench", register=_register)


def framework_config(port: int, token: str, log_level: str) -> dict[str, Any]:
    """127.0.0.1 only, JSON logs at `log_level`, one static external-access token."""
    return {
        "backend": {
            "baseUrl": f"http://127.0.0.1:{port}",
            "listen": {"host": "127.0.0.1", "port": port},
            "logging": {"level": log_level, "format": "json"},
            "auth": {
                "externalAccess": [
                    {"type": "static", "options": {"token": token, "subject": "bench"}}
                ]
            },
            "lifecycle": {"shutdownTimeout": "2s"},
        }
    }
