"""core.rootHealth: liveness and readiness of the backend."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["HealthCheckResult", "RootHealthService"]


@dataclass(frozen=True)
class HealthCheckResult:
    """What a health endpoint answers.

    Args:
        status: the HTTP status (200 healthy, 503 not).
        payload: the JSON body.
    """

    status: int
    payload: dict[str, Any]


class RootHealthService(Protocol):
    """core.rootHealth: what `/.backstage/health/v1/liveness` and `readiness` answer."""

    async def get_liveness(self) -> HealthCheckResult:
        """Whether the process is alive (it answers at all)."""
        ...

    async def get_readiness(self) -> HealthCheckResult:
        """Whether the backend has started, is not stopping, and can reach what it needs."""
        ...
