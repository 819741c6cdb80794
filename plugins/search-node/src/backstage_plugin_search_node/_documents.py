"""Documents, queries and result sets, in the shapes of `@backstage/plugin-search-common`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeAlias

import msgspec

__all__ = [
    "FilterValue",
    "IndexableDocument",
    "ResultHighlight",
    "SearchQuery",
    "SearchResult",
    "SearchResultSet",
]

IndexableDocument: TypeAlias = dict[str, Any]
"""A document as collated: `title`, `text` and `location` (strings), optionally
`authorization: {resourceRef}`, and any other keys, which become searchable and filterable."""

FilterValue: TypeAlias = str | int | float | bool | list[str | int | float | bool]
"""A filter's value: one value, or several of which a document must match one."""


@dataclass(frozen=True)
class SearchQuery:
    """What the caller asked for. `types` is never empty: the router fills in every
    registered type when the caller names none."""

    term: str = ""
    types: tuple[str, ...] = ()
    filters: dict[str, FilterValue] = field(default_factory=dict)
    page_limit: int | None = None
    """Results per page; None or 0 means the default of 25."""
    page_cursor: str | None = None


class ResultHighlight(msgspec.Struct, rename="camel"):
    """Matched document fields with each hit wrapped in `pre_tag` and `post_tag`."""

    pre_tag: str
    post_tag: str
    fields: dict[str, str]


class SearchResult(msgspec.Struct, rename="camel", omit_defaults=True):
    type: str
    document: IndexableDocument
    rank: int | None = None
    """The 1-based position over the whole result list, not a score."""
    highlight: ResultHighlight | None = None


class SearchResultSet(msgspec.Struct, rename="camel", omit_defaults=True):
    results: list[SearchResult]
    number_of_results: int | None = None
    next_page_cursor: str | None = None
    previous_page_cursor: str | None = None
    unindexed_types: list[str] | None = None
    """Requested types whose index has not been built yet (none of their documents can be
    found); absent when every requested type has an index."""
