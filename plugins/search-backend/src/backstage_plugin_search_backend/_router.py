"""`GET /query`: Backstage's search API over the configured engine."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any
from urllib.parse import urljoin, urlsplit

import msgspec
from backstage_backend_plugin_api import HttpAuthService, LoggerService
from backstage_common.errors import BackstageError, InputError, ServiceUnavailableError
from backstage_plugin_search_node import SearchResult, SearchResultSet
from litestar import Request, Response, get
from litestar.handlers import HTTPRouteHandler

from backstage_plugin_search_backend._authorized import AuthorizedSearch
from backstage_plugin_search_backend._query import read_search_query
from backstage_plugin_search_backend._query_string import parse_query_string
from backstage_plugin_search_backend._settings import SearchSettings

__all__ = ["SearchQueryError", "search_routes"]

_SAFE_SCHEMES = frozenset({"http", "https"})


class SearchQueryError(BackstageError):
    """The engine failed; the cause is logged, not sent (HTTP 500)."""


def _safe_result(result: SearchResult, logger: LoggerService) -> SearchResult | None:
    """The result without `authorization`, or None when its location is not a web URL."""
    location = result.document.get("location")
    scheme = urlsplit(urljoin("https://example.com", str(location))).scheme
    if scheme not in _SAFE_SCHEMES:
        logger.warn(f"Dropped a search result whose location uses the scheme '{scheme}'")
        return None
    if "authorization" not in result.document:
        return result
    document = {key: value for key, value in result.document.items() if key != "authorization"}
    return SearchResult(result.type, document, result.rank, result.highlight)


def _response(result_set: SearchResultSet, logger: LoggerService) -> SearchResultSet:
    safe = [_safe_result(result, logger) for result in result_set.results]
    return SearchResultSet(
        results=[result for result in safe if result is not None],
        number_of_results=result_set.number_of_results,
        next_page_cursor=result_set.next_page_cursor,
        previous_page_cursor=result_set.previous_page_cursor,
        unindexed_types=result_set.unindexed_types,
    )


def search_routes(
    search: AuthorizedSearch,
    document_types: Callable[[], Collection[str]],
    settings: SearchSettings,
    logger: LoggerService,
    http_auth: HttpAuthService,
) -> list[HTTPRouteHandler]:
    """`GET /query`: the results the caller (`http_auth`) may see."""
    encoder = msgspec.json.Encoder()

    @get("/query")
    async def query(request: Request[Any, Any, Any]) -> Response[bytes]:
        try:
            raw = request.scope.get("query_string", b"").decode("utf-8")
        except UnicodeDecodeError:
            raise InputError("Query parameters must be valid UTF-8") from None
        search_query = read_search_query(
            parse_query_string(raw), known_types=document_types(), settings=settings
        )
        logger.info(
            f'Search request received: term="{search_query.term}", '
            f"filters={msgspec.json.encode(search_query.filters).decode()}, "
            f"types={','.join(search_query.types)}, pageCursor={search_query.page_cursor or ''}"
        )
        credentials = await http_auth.credentials(request)
        try:
            result_set = await search.query(search_query, credentials)
        except (InputError, ServiceUnavailableError):
            # the client's mistake (400), or a database that cannot serve now (503)
            raise
        except Exception as error:
            logger.error(f"There was a problem performing the search query: {error}", error)
            raise SearchQueryError("There was a problem performing the search query") from None
        return Response(
            encoder.encode(_response(result_set, logger)),
            media_type="application/json; charset=utf-8",
        )

    return [query]
