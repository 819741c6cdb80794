"""core.rootHealth: liveness and readiness of the backend."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["HealthCheckResult", "RootHealthService"]


@dataclass(frozen=True)
class HealthCheckResult:
    """An HTTP status and the JSON body the health endpoint answers with."""

    status: int
    payload: dict[str, Any]


class RootHealthService(Protocol):
    async def get_liveness(self) -> HealthCheckResult: ...

    async def get_readiness(self) -> HealthCheckResult: ...
