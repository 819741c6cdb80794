"""Calls to the permission plugin's `POST /authorize`, batched and cached.

Asks made in the same turn of the event loop by one caller go out as one request (as
Backstage's DataLoader batches per tick), and each decision is remembered for the
caller's token until the token expires (`DecisionCache`), so a page of reads by one user
costs one round trip, and concurrent identical asks wait for the same one. Callers
without a token (`none`) are batched but never cached.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import msgspec
from backstage_backend_plugin_api import (
    AuthService,
    BackstageCredentials,
    BackstageNonePrincipal,
    DiscoveryService,
    LoggerService,
)
from backstage_common.errors import ServiceUnavailableError
from backstage_plugin_permission_common import (
    AuthorizeRequestItem,
    AuthorizeResult,
    Permission,
    PolicyDecision,
    authorize_request_to_json,
    authorize_response_from_json,
)

from backstage_backend_defaults.permissions._decision_cache import DecisionCache, token_key

__all__ = ["PermissionBackendClient", "PermissionBackendError", "PermissionQuestion"]

PERMISSION_PLUGIN_ID = "permission"


class PermissionBackendError(Exception):
    """The permission plugin answered with an error or with something that is not a valid
    answer (a 500 for the caller, as Backstage's `ResponseError`)."""


@dataclass(frozen=True)
class PermissionQuestion:
    """One ask: a permission, for a resource or none.

    Args:
        permission: the permission.
        resource_ref: the resource; None for basic permissions and conditional asks.
        conditional: whether a CONDITIONAL answer is wanted (else ALLOW/DENY only).
    """

    permission: Permission
    resource_ref: str | None = None
    conditional: bool = False


@dataclass
class _Batch:
    credentials: BackstageCredentials[Any]
    asks: list[tuple[PermissionQuestion, asyncio.Future[PolicyDecision]]] = field(
        default_factory=list
    )


class PermissionBackendClient:
    """One plugin's client of the permission plugin (batched per turn, cached per token)."""

    def __init__(
        self,
        *,
        auth: AuthService,
        discovery: DiscoveryService,
        http: Callable[[], httpx.AsyncClient],
        logger: LoggerService,
        cache: DecisionCache,
    ) -> None:
        self._auth = auth
        self._discovery = discovery
        self._http = http
        self._logger = logger
        self._cache = cache
        self._pending: dict[Hashable, _Batch] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def decide(
        self, questions: Sequence[PermissionQuestion], credentials: BackstageCredentials[Any]
    ) -> list[PolicyDecision]:
        """The permission plugin's decision on each question, in order."""
        token = credentials.token
        cacheable = bool(token) and credentials.expires_at is not None
        batch_key: Hashable = token_key(token) if token else object()
        futures: list[asyncio.Future[PolicyDecision]] = []
        loop = asyncio.get_running_loop()
        for question in questions:
            key = (batch_key, question)
            future = self._cache.get(key) if cacheable else None
            if future is None:
                future = loop.create_future()
                self._enqueue(batch_key, credentials, question, future)
                if cacheable and credentials.expires_at is not None:
                    self._cache.put(key, future, credentials.expires_at)
            futures.append(future)
        if all(future.done() for future in futures):
            # all remembered: no turn of the event loop (the common case of a user's reads)
            return [future.result() for future in futures]
        # shield: one caller giving up must not cancel a decision others wait for
        return list(await asyncio.gather(*(asyncio.shield(f) for f in futures)))

    def _enqueue(
        self,
        batch_key: Hashable,
        credentials: BackstageCredentials[Any],
        question: PermissionQuestion,
        future: asyncio.Future[PolicyDecision],
    ) -> None:
        batch = self._pending.get(batch_key)
        if batch is None:
            batch = self._pending[batch_key] = _Batch(credentials)
            asyncio.get_running_loop().call_soon(self._flush, batch_key)
        batch.asks.append((question, future))

    def _flush(self, batch_key: Hashable) -> None:
        batch = self._pending.pop(batch_key, None)
        if batch is None:
            return
        task = asyncio.get_running_loop().create_task(self._send(batch))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, batch: _Batch) -> None:
        try:
            decisions = await self._post(batch)
        except BaseException as error:
            for _, future in batch.asks:
                if not future.done():
                    future.set_exception(error)
                    future.exception()  # retrieved here: callers that left are not warned
            if not isinstance(error, Exception):
                raise
            return
        for (_, future), decision in zip(batch.asks, decisions, strict=True):
            if not future.done():
                future.set_result(decision)

    async def _post(self, batch: _Batch) -> list[PolicyDecision]:
        items = [
            AuthorizeRequestItem(str(uuid.uuid4()), question.permission, question.resource_ref)
            for question, _ in batch.asks
        ]
        headers = {"content-type": "application/json"}
        # nobody's asks go without a token, as Backstage's client sends them
        if not isinstance(batch.credentials.principal, BackstageNonePrincipal):
            token = await self._auth.get_plugin_request_token(
                on_behalf_of=batch.credentials, target_plugin_id=PERMISSION_PLUGIN_ID
            )
            if token.token:
                headers["authorization"] = f"Bearer {token.token}"
        url = f"{await self._discovery.get_base_url(PERMISSION_PLUGIN_ID)}/authorize"
        body = msgspec.json.encode(authorize_request_to_json(items))
        try:
            response = await self._http().post(url, content=body, headers=headers)
        except httpx.HTTPError as error:
            raise ServiceUnavailableError(
                "The permission backend could not be reached", error
            ) from error
        if response.status_code >= 500:
            raise ServiceUnavailableError(f"The permission backend answered {response.status_code}")
        if response.status_code != 200:
            raise PermissionBackendError(
                f"The permission backend refused the request with {response.status_code}: "
                f"{_error_message(response)}"
            )
        try:
            answers = authorize_response_from_json(
                msgspec.json.decode(response.content), ids=[item.id for item in items]
            )
        except Exception as error:  # anything malformed in the answer
            raise PermissionBackendError(
                f"Invalid answer from the permission backend: {error}"
            ) from error
        return [
            _checked(answers[item.id], question)
            for item, (question, _) in zip(items, batch.asks, strict=True)
        ]


def _checked(
    answer: PolicyDecision | tuple[AuthorizeResult, ...], question: PermissionQuestion
) -> PolicyDecision:
    if isinstance(answer, tuple):
        raise PermissionBackendError("The permission backend answered one result per ref")
    if answer.result is AuthorizeResult.CONDITIONAL and not question.conditional:
        raise PermissionBackendError(
            f"The permission backend answered CONDITIONAL for '{question.permission.name}'"
            " where ALLOW or DENY was asked"
        )
    return answer


def _error_message(response: httpx.Response) -> str:
    try:
        body = response.json()
        return str(body["error"]["message"])
    except Exception:
        return response.reason_phrase or "no error body"
