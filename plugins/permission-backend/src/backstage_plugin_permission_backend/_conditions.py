"""Conditional decisions for given resources, resolved by the plugin owning their type:
one `POST /.well-known/backstage/permissions/apply-conditions` per plugin for all the
items of an `/authorize` request, with a token `sub=permission` on the user's behalf."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import httpx
import msgspec
from backstage_backend_plugin_api import (
    AuthService,
    BackstageCredentials,
    BackstageNonePrincipal,
    DiscoveryService,
)
from backstage_common.errors import ServiceUnavailableError
from backstage_plugin_permission_common import (
    AuthorizeResult,
    ConditionalPolicyDecision,
    ResourceRef,
    apply_conditions_request_to_json,
    apply_conditions_response_from_json,
)

__all__ = ["ConditionResolver", "ConditionResolverError"]

APPLY_CONDITIONS_PATH = "/.well-known/backstage/permissions/apply-conditions"

ConditionalItem = tuple[str, ResourceRef, ConditionalPolicyDecision]
Result = AuthorizeResult | tuple[AuthorizeResult, ...]


class ConditionResolverError(Exception):
    """A plugin failed to apply conditions, or answered something invalid; the whole
    `/authorize` request fails (500), as Backstage's."""


class ConditionResolver:
    """Sends conditional items to the plugins that own their resource types."""

    def __init__(
        self,
        auth: AuthService,
        discovery: DiscoveryService,
        http: Callable[[], httpx.AsyncClient],
    ) -> None:
        self._auth = auth
        self._discovery = discovery
        self._http = http

    async def resolve(
        self,
        plugin_id: str,
        items: Sequence[ConditionalItem],
        credentials: BackstageCredentials[Any],
    ) -> dict[str, Result]:
        """Each item's result by id, from one request to `plugin_id`."""
        headers = {"content-type": "application/json"}
        if isinstance(credentials.principal, BackstageNonePrincipal):
            # Backstage sends no token here, which the owning plugin refuses (401); asking
            # for nobody, the permission plugin asks as itself.
            credentials = await self._auth.get_own_service_credentials()
        token = await self._auth.get_plugin_request_token(
            on_behalf_of=credentials, target_plugin_id=plugin_id
        )
        headers["authorization"] = f"Bearer {token.token}"
        url = f"{await self._discovery.get_base_url(plugin_id)}{APPLY_CONDITIONS_PATH}"
        body = msgspec.json.encode(apply_conditions_request_to_json(items))
        try:
            response = await self._http().post(url, content=body, headers=headers)
        except httpx.HTTPError as error:
            raise ServiceUnavailableError(
                f"Plugin '{plugin_id}' could not be reached to apply conditions", error
            ) from error
        if response.status_code != 200:
            raise ConditionResolverError(
                f"Plugin '{plugin_id}' failed to apply conditions: {response.status_code} "
                f"{_message(response)}"
            )
        try:
            results = apply_conditions_response_from_json(msgspec.json.decode(response.content))
        except Exception as error:
            raise ConditionResolverError(
                f"Plugin '{plugin_id}' answered apply-conditions with an invalid body: {error}"
            ) from error
        for item_id, ref, _ in items:
            result = results.get(item_id)
            if result is None or isinstance(result, tuple) != (not isinstance(ref, str)):
                raise ConditionResolverError(
                    f"Plugin '{plugin_id}' answered apply-conditions without a valid result "
                    f"for item {item_id}"
                )
            if isinstance(result, tuple) and len(result) != len(ref):
                raise ConditionResolverError(
                    f"Plugin '{plugin_id}' answered {len(result)} results for {len(ref)} refs"
                )
        return results


def _message(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["message"])
    except Exception:
        return response.reason_phrase or ""
