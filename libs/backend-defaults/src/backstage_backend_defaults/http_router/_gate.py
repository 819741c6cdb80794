"""Per-plugin admission: held until the plugin has started, 503 once shutdown begins, then
the default auth policy (credentials required unless the plugin allows the path)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from backstage_backend_plugin_api import AuthPolicy, HttpAuthService, PrincipalType
from backstage_common.errors import InputError, ServiceUnavailableError
from litestar.connection import ASGIConnection
from litestar.types import Scope

__all__ = ["PluginGate"]

_ALLOWED_PRINCIPALS: tuple[PrincipalType, ...] = ("user", "service")
_JWKS_PATH = "/.backstage/auth/v1/jwks.json"


def _normalize_policy_path(path: str) -> str:
    if path in ("/", "*", "/*", ""):
        return "/"
    if not path.startswith("/"):
        raise InputError(f"Invalid auth policy path '{path}', it must start with '/'")
    return path.rstrip("/")


@dataclass
class PluginGate:
    plugin_id: str
    http_auth: HttpAuthService | None
    startup_timeout: float
    prefix: str = field(init=False)
    jwks_path: str = field(init=False)
    open: bool = field(default=False, init=False)
    """True once started and until shutdown: requests pass without waiting."""
    guarded: bool = field(default=True, init=False)
    """False when the default auth policy is off for this plugin."""
    _started: asyncio.Event = field(default_factory=asyncio.Event, init=False)
    _stopping: bool = field(default=False, init=False)
    _unauthenticated: list[str] = field(default_factory=list, init=False)
    _user_cookie: list[str] = field(default_factory=list, init=False)
    # `_unauthenticated` as full paths, so that a request's path is matched in two C calls
    _open_all: bool = field(default=False, init=False)
    _open_paths: frozenset[str] = field(default=frozenset(), init=False)
    _open_prefixes: tuple[str, ...] = field(default=(), init=False)
    _static_token: Callable[[Scope], bool] | None = field(default=None, init=False)
    static_passes: set[bytes] | frozenset[bytes] = field(default=frozenset(), init=False)
    """`Authorization` headers known to carry a static token valid for this plugin (the
    default auth services keep them): such a request passes without calling `passes`."""

    def __post_init__(self) -> None:
        self.prefix = f"/api/{self.plugin_id}"
        self.guarded = self.http_auth is not None
        self.jwks_path = self.prefix + _JWKS_PATH
        # The default auth services answer a static token without a coroutine.
        self._static_token = getattr(self.http_auth, "allows_static_token", None)
        if self._static_token is not None:
            self.static_passes = getattr(self.http_auth, "static_passes", frozenset())

    @property
    def stopping(self) -> bool:
        return self._stopping

    def holds(self, full_path: str) -> bool:
        """Whether a request must wait for the plugin to start. The plugin's public keys
        never wait: a plugin still starting may call another, which then needs them."""
        return not self.open and full_path != self.jwks_path

    def add_policy(self, path: str, allow: AuthPolicy) -> None:
        if allow == "unauthenticated":
            self._unauthenticated.append(_normalize_policy_path(path))
            self._open_all = "/" in self._unauthenticated
            self._open_paths = frozenset(self.prefix + path for path in self._unauthenticated)
            self._open_prefixes = tuple(self.prefix + path + "/" for path in self._unauthenticated)
        elif allow == "user-cookie":
            self._user_cookie.append(_normalize_policy_path(path))
        else:
            raise InputError(f"Invalid auth policy '{allow}' for path '{path}'")

    def mark_started(self) -> None:
        self._started.set()
        self.open = not self._stopping

    def mark_stopping(self) -> None:
        self._stopping = True
        self.open = False

    async def admit(self) -> None:
        """Wait for the plugin to start; ServiceUnavailableError when it does not in time."""
        if self._stopping:
            raise ServiceUnavailableError("Service is shutting down")
        if self._started.is_set():
            return
        try:
            async with asyncio.timeout(self.startup_timeout):
                await self._started.wait()
        except TimeoutError:
            raise ServiceUnavailableError("Service has not started up yet") from None

    @staticmethod
    def _matches(policies: list[str], path: str) -> bool:
        for policy in policies:
            if policy == "/" or path == policy or path.startswith(policy + "/"):
                return True
        return False

    def allows_unauthenticated(self, full_path: str) -> bool:
        """Whether the plugin lets requests for this (canonical) path in without credentials.

        Args:
            full_path: The request's canonical path, under the plugin's prefix.
        """
        return (
            self._open_all
            or full_path in self._open_paths
            or full_path.startswith(self._open_prefixes)
        )

    def passes(self, scope: Scope, full_path: str) -> bool:
        """True when the request passes the auth policy, decided without awaiting anything:
        the policy is off, the path is allowed, or the request carries a static token the
        default auth services know. False: ask `authorize`.

        Args:
            scope: The request's ASGI scope.
            full_path: The request's canonical path, under the plugin's prefix.
        """
        if (  # `allows_unauthenticated`, inline: this runs on every request
            not self.guarded
            or self._open_all
            or full_path in self._open_paths
            or full_path.startswith(self._open_prefixes)
        ):
            return True
        static_token = self._static_token
        return static_token is not None and static_token(scope)

    async def authorize(self, scope: Scope, full_path: str) -> None:
        """Apply the default auth policy; raises AuthenticationError / NotAllowedError."""
        if self.http_auth is None:
            return
        if self.allows_unauthenticated(full_path):
            return
        path = full_path[len(self.prefix) :] or "/"
        connection: ASGIConnection[Any, Any, Any, Any] = ASGIConnection(scope)
        await self.http_auth.credentials(
            connection,
            allow=_ALLOWED_PRINCIPALS,
            allow_limited_access=self._matches(self._user_cookie, path),
        )
