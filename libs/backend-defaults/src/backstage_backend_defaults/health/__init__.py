"""core.rootHealth: liveness and readiness, served outside `/api` without auth."""

from __future__ import annotations

from typing import Any

from backstage_backend_plugin_api import (
    HealthCheckResult,
    RootConfigService,
    RootHealthService,
    create_service_factory,
)
from backstage_backend_plugin_api import core_services as core
from litestar import Response, get
from litestar.handlers import HTTPRouteHandler

from backstage_backend_defaults.lifecycle import BackendLifecycle

__all__ = ["BackendHealth", "health_route_handlers", "root_health_service_factory"]


class BackendHealth:
    """Ready once the root lifecycle has started, and no longer once shutdown begins."""

    def __init__(self, lifecycle: object) -> None:
        self._lifecycle = lifecycle

    async def get_liveness(self) -> HealthCheckResult:
        return HealthCheckResult(200, {"status": "ok"})

    async def get_readiness(self) -> HealthCheckResult:
        lifecycle = self._lifecycle
        if isinstance(lifecycle, BackendLifecycle):
            if lifecycle.shutting_down:
                return HealthCheckResult(
                    503, {"message": "Backend is shutting down", "status": "error"}
                )
            if not lifecycle.started:
                return HealthCheckResult(
                    503, {"message": "Backend has not started yet", "status": "error"}
                )
        return HealthCheckResult(200, {"status": "ok"})


def health_route_handlers(
    health: RootHealthService, config: RootConfigService
) -> list[HTTPRouteHandler]:
    """`/.backstage/health/v1/{liveness,readiness}` with `backend.health.headers` added."""
    headers_config = config.get_optional_config("backend.health.headers")
    headers = (
        {key: headers_config.get_string(key) for key in headers_config.keys()}
        if headers_config is not None
        else {}
    )

    def respond(result: HealthCheckResult) -> Response[dict[str, Any]]:
        return Response(result.payload, status_code=result.status, headers=headers)

    @get("/.backstage/health/v1/liveness")
    async def liveness() -> Response[dict[str, Any]]:
        return respond(await health.get_liveness())

    @get("/.backstage/health/v1/readiness")
    async def readiness() -> Response[dict[str, Any]]:
        return respond(await health.get_readiness())

    return [liveness, readiness]


def _create_health(lifecycle: core.RootLifecycle) -> BackendHealth:
    return BackendHealth(lifecycle)


root_health_service_factory = create_service_factory(
    service=core.root_health, factory=_create_health
)
