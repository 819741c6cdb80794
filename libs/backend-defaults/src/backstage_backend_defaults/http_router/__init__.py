"""core.rootHttpRouter and core.httpRouter: one Litestar app per backend, served by granian.

Config: `backend.listen`, `backend.cors`, `backend.server.requestBodyLimit` (bytes, or a
string such as `'10mb'`; 413 past it), `backend.server.headersTimeout` / `requestTimeout` /
`keepAliveTimeout` (Node's server timeouts), `backend.compression` (`enabled`, `threshold`,
`level`: gzip responses), `backend.lifecycle.startupRequestPauseTimeout`,
`backend.lifecycle.shutdownTimeout` (how long in-flight requests may take to finish),
`backend.errors.showStackTraces`, `backend.auth.dangerouslyDisableDefaultAuthPolicy`.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from backstage_backend_plugin_api import LoggerService, RootConfigService, create_service_factory
from backstage_backend_plugin_api import core_services as core
from backstage_common.durations import read_optional_duration
from backstage_common.errors import InputError
from backstage_common.worker_role import read_worker_role
from litestar import Litestar

from backstage_backend_defaults.health import health_route_handlers
from backstage_backend_defaults.http_router._asgi import BackendAsgiApp
from backstage_backend_defaults.http_router._compression import (
    CompressionOptions,
    read_compression_options,
)
from backstage_backend_defaults.http_router._cors import read_cors_config
from backstage_backend_defaults.http_router._errors import ErrorRenderer, error_status
from backstage_backend_defaults.http_router._gate import PluginGate
from backstage_backend_defaults.http_router._hooks import (
    REQUEST_HOOKS,
    RequestHooks,
    RequestSpan,
    StartedRequest,
)
from backstage_backend_defaults.http_router._routers import PluginHttpRouter, RootHttpRouter
from backstage_backend_defaults.http_router._server import (
    HttpServer,
    ListenOptions,
    read_listen_options,
    read_server_timeouts,
)
from backstage_backend_defaults.http_router._sizes import read_size
from backstage_backend_defaults.instrumentation import InstrumentationDep

__all__ = [
    "REQUEST_HOOKS",
    "BackendAsgiApp",
    "CompressionOptions",
    "ErrorRenderer",
    "HttpServer",
    "ListenOptions",
    "PluginHttpRouter",
    "RequestHooks",
    "RequestSpan",
    "RootHttpRouter",
    "StartedRequest",
    "error_status",
    "http_router_service_factory",
    "read_compression_options",
    "read_listen_options",
    "read_server_timeouts",
    "root_http_router_service_factory",
]

_SERVER_STOP_MIN_SECONDS = 1.0
"""The least time the server gets to close its connections, when the drain took the rest."""


def read_body_limit(config: RootConfigService) -> int:
    return read_size(config, "backend.server.requestBodyLimit", 10 * 1024**2)


class BackendHttp:
    """The root HTTP router service: the app, its server, and the shutdown drain."""

    def __init__(
        self,
        router: RootHttpRouter,
        server: HttpServer,
        *,
        shutdown_timeout: timedelta,
        logger: LoggerService,
    ) -> None:
        self.router = router
        self.server = server
        self._shutdown_timeout = shutdown_timeout
        self._logger = logger

    def use(self, path: str, *handlers: object) -> None:
        self.router.use(path, *handlers)  # type: ignore[arg-type]

    async def drain_and_stop(self) -> None:
        """Let the requests in flight end, then stop the server, together within
        `backend.lifecycle.shutdownTimeout` (the server gets at least
        `_SERVER_STOP_MIN_SECONDS`); what is still open then is abandoned, with a warning."""
        asgi = self.router.asgi
        asgi.stop_admitting()
        loop = asyncio.get_running_loop()
        timeout = self._shutdown_timeout.total_seconds()
        deadline = loop.time() + timeout
        running = await asgi.drain(timeout)
        if running:
            self._logger.warn(
                f"{len(running)} request(s) still running after "
                f"backend.lifecycle.shutdownTimeout were cancelled: {', '.join(running[:10])}"
            )
        remaining = max(deadline - loop.time(), _SERVER_STOP_MIN_SECONDS)
        if not await self.server.stop(remaining):
            self._logger.warn(
                "The HTTP server's connections were still open after "
                "backend.lifecycle.shutdownTimeout; they end with the process"
            )


async def _create_root_http_router(
    config: core.RootConfig,
    logger: core.RootLogger,
    lifecycle: core.RootLifecycle,
    health: core.RootHealth,
    instrumentation: InstrumentationDep,
) -> BackendHttp:
    show_stacks = bool(config.get_optional_boolean("backend.errors.showStackTraces"))
    errors = ErrorRenderer(logger, show_stack_traces=show_stacks)
    app = Litestar(
        route_handlers=health_route_handlers(health, config),
        exception_handlers={Exception: errors.litestar_handler},
        cors_config=read_cors_config(config),
        request_max_body_size=read_body_limit(config),
        openapi_config=None,
        logging_config=None,
    )
    timeouts = read_server_timeouts(config)
    asgi = BackendAsgiApp(
        app,
        logger.child({"type": "incomingRequest"}),
        errors,
        instrumentation.get(REQUEST_HOOKS),
        compression=read_compression_options(config),
        request_timeout=timeouts.request,
        # As Backstage's default indexPath, `/api/app`: the app plugin serves the frontend.
        index_plugin="app",
    )
    server = HttpServer(asgi, read_listen_options(config), timeouts)
    timeout = read_optional_duration(config, "backend.lifecycle.shutdownTimeout")
    http = BackendHttp(
        RootHttpRouter(asgi),
        server,
        shutdown_timeout=timeout or timedelta(seconds=30),
        logger=logger,
    )

    async def listen() -> None:
        await server.start()
        logger.info(f"Listening on {server.listen.host}:{server.listen.port}")

    lifecycle.add_before_shutdown_hook(http.drain_and_stop)
    if read_worker_role(config) != "serve":
        await listen()
        lifecycle.add_startup_hook(asgi.mark_backend_started)
    else:
        # A serving worker shares its port with the unit's other workers: it joins their
        # accept group once it can serve, so that no request waits for its start.
        lifecycle.add_startup_hook(asgi.mark_backend_started)
        lifecycle.add_startup_hook(listen)
    if config.get_optional_boolean("backend.auth.dangerouslyDisableDefaultAuthPolicy"):
        logger.warn(
            "The default auth policy is disabled: every plugin endpoint accepts requests "
            "without credentials (backend.auth.dangerouslyDisableDefaultAuthPolicy)"
        )
    return http


async def _create_http_router(
    config: core.RootConfig,
    root: core.RootHttpRouter,
    lifecycle: core.Lifecycle,
    metadata: core.PluginMetadata,
    auth: core.Auth,
    http_auth: core.HttpAuth,
) -> PluginHttpRouter:
    if not isinstance(root, BackendHttp):
        raise InputError("The default httpRouter needs the default rootHttpRouter")
    disabled = bool(config.get_optional_boolean("backend.auth.dangerouslyDisableDefaultAuthPolicy"))
    pause = read_optional_duration(config, "backend.lifecycle.startupRequestPauseTimeout")
    gate = PluginGate(
        plugin_id=metadata.get_id(),
        http_auth=None if disabled else http_auth,
        startup_timeout=(pause or timedelta(seconds=5)).total_seconds(),
    )
    root.router.asgi.add_gate(gate)
    lifecycle.add_startup_hook(gate.mark_started)
    return PluginHttpRouter(root.router, gate, auth, http_auth)


root_http_router_service_factory = create_service_factory(
    service=core.root_http_router,
    factory=_create_root_http_router,
    initialization="always",
)
http_router_service_factory = create_service_factory(
    service=core.http_router,
    factory=_create_http_router,
    initialization="always",
)
