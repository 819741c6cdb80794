"""Who a user is for a policy: the user ref and the ownership refs.

The refs come from the token's `ent` claim (the core has verified the token already); a
token without one (the limited token a plugin forwards on a user's behalf) is looked up at
the auth backend's `GET /v1/userinfo`, remembered five seconds per token, as Backstage's
user info service does. A token that is no JWT at all (only test doubles of the auth
service make those) stands for the user alone.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import httpx
import jwt
from backstage_backend_plugin_api import (
    BackstageCredentials,
    BackstageUserPrincipal,
    DiscoveryService,
)
from backstage_common.errors import AuthenticationError, ServiceUnavailableError
from backstage_plugin_permission_node import PolicyQueryUser

__all__ = ["UserInfoError", "UserInfoLookup"]

_TTL_SECONDS = 5.0
_MAX_ENTRIES = 10_000


def _ent(claims: Any) -> list[str] | None:
    ent = claims.get("ent") if isinstance(claims, dict) else None
    if isinstance(ent, list) and all(isinstance(ref, str) for ref in ent):
        return ent
    return None


class UserInfoError(Exception):
    """The auth backend could not say who the user is (a 500, as Backstage's)."""


class UserInfoLookup:
    """Builds the `PolicyQueryUser` of a user's credentials."""

    def __init__(
        self,
        discovery: DiscoveryService,
        http: Callable[[], httpx.AsyncClient],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._discovery = discovery
        self._http = http
        self._clock = clock
        self._remembered: OrderedDict[bytes, tuple[float, list[str]]] = OrderedDict()

    async def user(
        self, credentials: BackstageCredentials[BackstageUserPrincipal]
    ) -> PolicyQueryUser:
        """The user of the credentials with their ownership refs."""
        token = credentials.token
        if not token:
            raise AuthenticationError("User credentials are missing their token")
        claims = self._claims(token)
        if claims is None:
            refs: list[str] = [credentials.principal.user_entity_ref]
        else:
            found = _ent(claims)
            refs = found if found is not None else await self._looked_up(token)
        return PolicyQueryUser(
            user_entity_ref=credentials.principal.user_entity_ref,
            ownership_entity_refs=tuple(refs),
            credentials=credentials,
        )

    @staticmethod
    def _claims(token: str) -> Any:
        try:
            # verified by the core when the request was authenticated
            return jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            return None

    async def _looked_up(self, token: str) -> list[str]:
        key = hashlib.sha256(token.encode()).digest()
        now = self._clock()
        remembered = self._remembered.get(key)
        if remembered is not None and remembered[0] > now:
            return remembered[1]
        url = f"{await self._discovery.get_base_url('auth')}/v1/userinfo"
        try:
            response = await self._http().get(url, headers={"authorization": f"Bearer {token}"})
        except httpx.HTTPError as error:
            raise ServiceUnavailableError(
                "The auth backend could not be reached for the user's ownership refs", error
            ) from error
        if response.status_code >= 500:
            raise ServiceUnavailableError(
                f"The auth backend answered {response.status_code} for the user's info"
            )
        if response.status_code != 200:
            raise UserInfoError(
                f"The auth backend has no user info for the caller ({response.status_code})"
            )
        try:
            claims = response.json().get("claims")
        except (ValueError, AttributeError):
            claims = None
        if not isinstance(claims, dict):
            raise UserInfoError("The auth backend answered user info without claims")
        # claims without `ent`: the user owns nothing through groups, as Backstage reads them
        refs = _ent(claims) or []
        self._remembered[key] = (now + _TTL_SECONDS, refs)
        while len(self._remembered) > _MAX_ENTRIES:
            self._remembered.popitem(last=False)
        return refs
