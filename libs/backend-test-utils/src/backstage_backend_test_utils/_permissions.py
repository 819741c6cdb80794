"""A fake `core.permissions` whose decisions a test chooses, recording what was asked."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from backstage_backend_plugin_api import (
    AuthorizePermissionRequest,
    BackstageCredentials,
    PermissionsService,
    QueryPermissionRequest,
    ServiceFactory,
    create_service_factory,
)
from backstage_backend_plugin_api import core_services as core
from backstage_plugin_permission_common import (
    AuthorizeResult,
    DefinitivePolicyDecision,
    Permission,
    PolicyDecision,
)

__all__ = ["MockPermissionsService", "mock_permissions_factory"]

Decide = Callable[[Permission, str | None, BackstageCredentials[Any]], PolicyDecision]


class MockPermissionsService:
    """Answers every ask with `decide(permission, resource_ref, credentials)`, by default
    ALLOW; `asked` records `(permission name, resource_ref)` in order.

    A conditional answer to `authorize` is refused, as the real service refuses one.
    """

    def __init__(self, decide: Decide | None = None) -> None:
        allow = DefinitivePolicyDecision(AuthorizeResult.ALLOW)
        self._decide: Decide = decide or (lambda permission, ref, credentials: allow)
        self.asked: list[tuple[str, str | None]] = []

    async def authorize(
        self,
        requests: Sequence[AuthorizePermissionRequest],
        *,
        credentials: BackstageCredentials[Any],
    ) -> list[DefinitivePolicyDecision]:
        decisions: list[DefinitivePolicyDecision] = []
        for request in requests:
            self.asked.append((request.permission.name, request.resource_ref))
            decision = self._decide(request.permission, request.resource_ref, credentials)
            if not isinstance(decision, DefinitivePolicyDecision):
                raise ValueError("authorize answers ALLOW or DENY only")
            decisions.append(decision)
        return decisions

    async def authorize_conditional(
        self,
        requests: Sequence[QueryPermissionRequest],
        *,
        credentials: BackstageCredentials[Any],
    ) -> list[PolicyDecision]:
        self.asked.extend((request.permission.name, None) for request in requests)
        return [self._decide(r.permission, None, credentials) for r in requests]


def mock_permissions_factory(decide: Decide | None = None) -> ServiceFactory[PermissionsService]:
    """A `core.permissions` factory: one `MockPermissionsService` per plugin."""

    def create() -> PermissionsService:
        return MockPermissionsService(decide)

    return create_service_factory(service=core.permissions, factory=create)
