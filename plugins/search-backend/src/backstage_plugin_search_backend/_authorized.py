"""Search results the reader may see: Backstage's `AuthorizedSearchEngine`.

A collator may name a `visibility_permission` for its documents (the catalog's is
`catalog.entity.read`), and its documents carry `authorization.resourceRef`. For each type
asked for, the reader's decision on that permission is taken first:

- DENY: the type is left out of the query (every type denied: no results at all);
- ALLOW (and types without a permission): the engine's results as they are;
- CONDITIONAL (a resource permission): each result of the type is decided for its
  resource. The engine is read page after page from the start, the results of each page
  decided in one `authorize` call (the permission plugin hands them to the owning plugin in
  one batch), until the asked page is full, the engine has no more, or the query's latency
  budget (`search.permissions.queryLatencyBudgetMs`, default 1000) is spent.

In that last case, as in Backstage, pages are full, cursors are this engine's own (base64
of the page number), ranks run over the filtered results, and `numberOfResults` is left
out: counting would mean deciding every match. A next cursor is given only once a further
visible result has been seen (Backstage gives one whenever the engine has more, which may
lead to an empty page); with the budget spent, the page holds what was found and there is
no next cursor. Decisions are kept for the rest of the query, and
the permissions service keeps them per token beyond it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Protocol, runtime_checkable

from backstage_backend_plugin_api import (
    AuthorizePermissionRequest,
    BackstageCredentials,
    BackstageNonePrincipal,
    PermissionsService,
    QueryPermissionRequest,
    is_principal,
)
from backstage_plugin_permission_common import (
    AuthorizeResult,
    BasicPermission,
    Permission,
    ResourcePermission,
)
from backstage_plugin_search_node import (
    SearchEngine,
    SearchQuery,
    SearchResult,
    SearchResultSet,
    decode_page_cursor,
    encode_page_cursor,
    page_size,
)

__all__ = [
    "DEFAULT_QUERY_LATENCY_BUDGET_S",
    "AuthorizedSearch",
    "VisibilityPermission",
    "visibility_permission_of",
]

DEFAULT_QUERY_LATENCY_BUDGET_S = 1.0
_ENGINE_PAGE_LIMIT = 100
"""Results read from the engine at a time while filtering: each read costs a query and an
authorize round trip, so fewer, larger reads fill a page sooner than Backstage's reads of
one page size."""


@runtime_checkable
class VisibilityPermission(Protocol):
    """A collator factory whose documents are visible only to readers allowed a permission
    (Backstage's `DocumentCollatorFactory.visibilityPermission`)."""

    @property
    def visibility_permission(self) -> Permission | None:
        """The permission a reader needs, checked against the documents'
        `authorization.resourceRef` when it is a resource permission."""
        ...


def visibility_permission_of(factory: object) -> Permission | None:
    """The collator factory's visibility permission, or None when it has none.

    Args:
        factory: a registered collator factory.
    """
    if isinstance(factory, VisibilityPermission):
        return factory.visibility_permission
    return None


def _resource_ref(result: SearchResult) -> str | None:
    authorization = result.document.get("authorization")
    ref = authorization.get("resourceRef") if isinstance(authorization, Mapping) else None
    return ref if isinstance(ref, str) else None


class _Query:
    """One query's decisions, kept while it pages through the engine."""

    def __init__(
        self,
        permissions: PermissionsService,
        credentials: BackstageCredentials[Any],
        visibility: Mapping[str, Permission],
    ) -> None:
        self._permissions = permissions
        self._credentials = credentials
        self._visibility = visibility
        self._allowed: dict[tuple[str, str], bool] = {}

    async def type_decisions(self, types: Sequence[str]) -> dict[str, AuthorizeResult]:
        """The reader's decision on each type's permission (ALLOW without one), with one
        ask per kind of permission."""
        resource = {
            p.name: p for t in types if isinstance(p := self._visibility.get(t), ResourcePermission)
        }
        basic = {
            p.name: p for t in types if isinstance(p := self._visibility.get(t), BasicPermission)
        }
        by_name: dict[str, AuthorizeResult] = {}
        if resource and is_principal(self._credentials, BackstageNonePrincipal):
            # The permission plugin answers conditions only to plugins acting for a user;
            # for a caller without credentials each result is decided by its resource.
            by_name.update((name, AuthorizeResult.CONDITIONAL) for name in resource)
            resource = {}
        if resource:
            decisions = await self._permissions.authorize_conditional(
                [QueryPermissionRequest(p) for p in resource.values()],
                credentials=self._credentials,
            )
            by_name.update(
                (name, decision.result) for name, decision in zip(resource, decisions, strict=True)
            )
        if basic:
            definitive = await self._permissions.authorize(
                [AuthorizePermissionRequest(p) for p in basic.values()],
                credentials=self._credentials,
            )
            by_name.update(
                (name, decision.result) for name, decision in zip(basic, definitive, strict=True)
            )
        results: dict[str, AuthorizeResult] = {}
        for type_ in types:
            permission = self._visibility.get(type_)
            results[type_] = (
                AuthorizeResult.ALLOW if permission is None else by_name[permission.name]
            )
        return results

    async def visible(
        self, results: Sequence[SearchResult], decisions: Mapping[str, AuthorizeResult]
    ) -> list[SearchResult]:
        """The results the reader may see, their resources decided in one ask."""
        wanted: dict[tuple[str, str], AuthorizePermissionRequest] = {}
        for result in results:
            permission = self._visibility.get(result.type)
            ref = _resource_ref(result)
            if decisions.get(result.type) is not AuthorizeResult.CONDITIONAL:
                continue
            if permission is None or ref is None or (permission.name, ref) in self._allowed:
                continue
            wanted[(permission.name, ref)] = AuthorizePermissionRequest(permission, ref)
        if wanted:
            answers = await self._permissions.authorize(
                list(wanted.values()), credentials=self._credentials
            )
            for key, answer in zip(wanted, answers, strict=True):
                self._allowed[key] = answer.allowed
        return [result for result in results if self._sees(result, decisions)]

    def _sees(self, result: SearchResult, decisions: Mapping[str, AuthorizeResult]) -> bool:
        if decisions.get(result.type) is not AuthorizeResult.CONDITIONAL:
            return True
        permission = self._visibility.get(result.type)
        ref = _resource_ref(result)
        # a document without a resource is visible, as in Backstage
        if permission is None or ref is None:
            return True
        return self._allowed[(permission.name, ref)]


class AuthorizedSearch:
    """Queries `engine` for a reader, leaving out what the reader may not see.

    Args:
        engine: the search engine.
        visibility: each document type's visibility permission (types without one are
            visible to all), read at each query (collators register before start).
        permissions: the plugin's permissions service.
        latency_budget_s: how long filtering may go on reading the engine.
    """

    def __init__(
        self,
        engine: SearchEngine,
        visibility: Callable[[], Mapping[str, Permission]],
        permissions: PermissionsService,
        latency_budget_s: float = DEFAULT_QUERY_LATENCY_BUDGET_S,
    ) -> None:
        self._engine = engine
        self._visibility = visibility
        self._permissions = permissions
        self._budget = latency_budget_s

    async def query(
        self, query: SearchQuery, credentials: BackstageCredentials[Any]
    ) -> SearchResultSet:
        """One page of the results the reader may see.

        Args:
            query: the query, its `types` filled in.
            credentials: the reader's.
        """
        started = time.monotonic()
        asked = _Query(self._permissions, credentials, self._visibility())
        decisions = await asked.type_decisions(query.types)
        types = tuple(t for t in query.types if decisions[t] is not AuthorizeResult.DENY)
        if not types:
            return SearchResultSet(results=[])
        if all(decisions[t] is AuthorizeResult.ALLOW for t in types):
            return await self._engine.query(replace(query, types=types))

        size = page_size(query.page_limit)
        page = decode_page_cursor(query.page_cursor)
        wanted = (page + 1) * size
        found: list[SearchResult] = []
        cursor: str | None = None
        unindexed: list[str] | None = None
        over_budget = False
        while True:
            engine_page = await self._engine.query(
                replace(
                    query,
                    types=types,
                    page_limit=max(size, _ENGINE_PAGE_LIMIT),
                    page_cursor=cursor,
                )
            )
            unindexed = unindexed if unindexed is not None else engine_page.unindexed_types
            found += await asked.visible(engine_page.results, decisions)
            cursor = engine_page.next_page_cursor
            over_budget = time.monotonic() - started > self._budget
            if cursor is None or len(found) > wanted or over_budget:
                break
        results = [
            _ranked(result, page * size + index + 1)
            for index, result in enumerate(found[page * size : wanted])
        ]
        more = not over_budget and (cursor is not None or len(found) > wanted)
        return SearchResultSet(
            results=results,
            next_page_cursor=encode_page_cursor(page + 1) if more else None,
            previous_page_cursor=encode_page_cursor(page - 1) if page > 0 else None,
            unindexed_types=unindexed,
        )


def _ranked(result: SearchResult, rank: int) -> SearchResult:
    """The result with its rank over the filtered results."""
    return SearchResult(result.type, result.document, rank, result.highlight)
