"""core.rootHealth: liveness and readiness, served outside `/api` without auth.

Readiness is 503 before the root lifecycle has started and once shutdown begins, as in
Backstage; in between it is 503 while any readiness check contributed by a service (the
database manager contributes one: every plugin database in use must answer) reports a
problem, with the problems in the body's `message`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, runtime_checkable

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

__all__ = [
    "BackendHealth",
    "ReadinessCheck",
    "ReadinessChecks",
    "health_route_handlers",
    "root_health_service_factory",
]

ReadinessCheck = Callable[[], Awaitable[list[str]]]
"""Returns what keeps the backend from serving (one line each), or nothing when all is well."""

CHECK_TIMEOUT_SECONDS = 5.0
"""A check that has not answered by then counts as a problem."""


@runtime_checkable
class ReadinessChecks(Protocol):
    """A root health service that services can add readiness checks to."""

    def add_readiness_check(self, check: ReadinessCheck) -> None: ...


async def _run_check(check: ReadinessCheck) -> list[str]:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            return await check()
    except TimeoutError:
        return [f"A readiness check gave no answer within {CHECK_TIMEOUT_SECONDS:g} s"]
    except Exception as error:
        return [f"A readiness check failed: {type(error).__name__}: {error}"]


class BackendHealth:
    """Ready once the root lifecycle has started, while every readiness check passes, and
    no longer once shutdown begins."""

    def __init__(self, lifecycle: object) -> None:
        self._lifecycle = lifecycle
        self._checks: list[ReadinessCheck] = []

    def add_readiness_check(self, check: ReadinessCheck) -> None:
        self._checks.append(check)

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
        results = await asyncio.gather(*(_run_check(check) for check in self._checks))
        problems = [problem for result in results for problem in result]
        if problems:
            return HealthCheckResult(503, {"message": "; ".join(problems), "status": "error"})
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
