"""core.permissions: asking the permission framework whether a caller may do something."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from backstage_plugin_permission_common import (
    DefinitivePolicyDecision,
    Permission,
    PolicyDecision,
    ResourcePermission,
)

from backstage_backend_plugin_api._services.auth import BackstageCredentials

__all__ = ["AuthorizePermissionRequest", "PermissionsService", "QueryPermissionRequest"]


@dataclass(frozen=True)
class AuthorizePermissionRequest:
    """A permission to decide, for one resource or none.

    Args:
        permission: the permission asked for.
        resource_ref: the resource it is asked for (resource permissions only); the
            owning plugin then applies any conditions and the answer is ALLOW or DENY.
    """

    permission: Permission
    resource_ref: str | None = None


@dataclass(frozen=True)
class QueryPermissionRequest:
    """A resource permission to decide without a resource: the answer may be conditional,
    for the plugin to turn into a query over its resources.

    Args:
        permission: the resource permission asked for.
    """

    permission: ResourcePermission


class PermissionsService(Protocol):
    """core.permissions: decisions for the caller whose credentials are given.

    Service principals are answered ALLOW at once (DENY where their access restrictions
    exclude the permission) and, when `permission.enabled` is not true, everything is
    ALLOW without a call; otherwise the permission plugin decides.
    """

    async def authorize(
        self,
        requests: Sequence[AuthorizePermissionRequest],
        *,
        credentials: BackstageCredentials[Any],
    ) -> list[DefinitivePolicyDecision]:
        """ALLOW or DENY for each request, in order.

        Args:
            requests: the permissions (and resources) to decide.
            credentials: the caller's credentials, as `core.httpAuth` read them.
        """
        ...

    async def authorize_conditional(
        self,
        requests: Sequence[QueryPermissionRequest],
        *,
        credentials: BackstageCredentials[Any],
    ) -> list[PolicyDecision]:
        """A decision for each request, in order: ALLOW, DENY, or CONDITIONAL with the
        conditions the plugin applies as a filter over its resources.

        Args:
            requests: the resource permissions to decide.
            credentials: the caller's credentials, as `core.httpAuth` read them.
        """
        ...
