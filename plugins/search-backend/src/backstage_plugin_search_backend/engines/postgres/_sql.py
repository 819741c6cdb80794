"""The query statement of the Postgres engine, built from bound parameters only."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

import msgspec
from backstage_plugin_search_node import FilterValue

__all__ = ["query_statement"]


def _scalar(value: str) -> list[object]:
    """The JSON values a query-string value stands for: itself, and the number or boolean
    it spells (documents may hold those)."""
    values: list[object] = [value]
    if value in ("true", "false"):
        values.append(value == "true")
    else:
        with contextlib.suppress(msgspec.DecodeError):
            values.append(msgspec.json.decode(value, type=int | float))
    return values


def _containments(key: str, wanted: FilterValue) -> list[str]:
    items = wanted if isinstance(wanted, list) else [wanted]
    documents = []
    for item in items:
        text = ("true" if item else "false") if isinstance(item, bool) else str(item).lower()
        for value in _scalar(text):
            documents.append({key.lower(): value})
            documents.append({key.lower(): [value]})
    return [msgspec.json.encode(document).decode() for document in documents]


def _filter_conditions(filters: Mapping[str, FilterValue], params: dict[str, Any]) -> list[str]:
    """Per key: the document's value, or one of its array's values, equals one of the
    wanted values, ignoring case (the lowercased `filter_document`, GIN indexed); keys are
    ANDed."""
    conditions = []
    for number, (key, wanted) in enumerate(filters.items()):
        alternatives = []
        for index, document in enumerate(_containments(key, wanted)):
            name = f"filter_{number}_{index}"
            params[name] = document
            alternatives.append(f"t.filter_document @> CAST(:{name} AS jsonb)")
        conditions.append("(" + " OR ".join(alternatives) + ")")
    return conditions


def query_statement(
    *,
    has_term: bool,
    highlight: bool,
    filters: Mapping[str, FilterValue],
    params: dict[str, Any],
) -> str:
    """One statement, so that the generation lookup and the documents share a snapshot:
    an index swapped in meanwhile is seen whole or not at all. It answers at least one
    row: `indexed_types` (the requested types that have an index) on every row, and the
    page's columns, all null when there is no hit.

    Expects `:types`, `:offset`, `:limit`, and with a term `:tsquery`, `:normalization`
    and (for highlights) `:headline_options`; adds the filter parameters to `params`."""
    conditions = [
        "t.generation IN (SELECT generation FROM search_indices WHERE type = ANY(:types))"
    ]
    if has_term:
        conditions.append("query @@ t.body")
    conditions += _filter_conditions(filters, params)
    rank = "ts_rank(t.body, query, :normalization)" if has_term else "0"
    sources = "search_terms t"
    if has_term:
        sources += ", to_tsquery('english', :tsquery) query"
    order = "rank DESC, type_order, position" if has_term else "type_order, position"
    # Rank and count carrying only keys; documents are read for the page's rows alone.
    hits = f"""
        SELECT t.generation, t.position, t.type,
               array_position(CAST(:types AS text[]), t.type) AS type_order,
               {rank} AS rank, count(*) OVER () AS total
        FROM {sources}
        WHERE {" AND ".join(conditions)}
        ORDER BY {order}
        OFFSET :offset LIMIT :limit
    """
    columns = "hits.type, hits.position, hits.type_order, hits.rank, hits.total, d.document"
    joined = "search_documents d JOIN hits USING (generation, position)"
    if has_term and highlight:
        columns += "".join(
            f", ts_headline('english', coalesce(d.document ->> '{name}', ''), query,"
            f" :headline_options) AS {name}_headline"
            for name in ("title", "text", "location")
        )
        joined += ", to_tsquery('english', :tsquery) query"
    page_order = ", ".join(f"page.{part}" for part in order.split(", "))
    return f"""
        WITH hits AS ({hits}),
        page AS (SELECT {columns} FROM {joined})
        SELECT indexed.types AS indexed_types, page.*
        FROM (
            SELECT coalesce(array_agg(type), CAST(ARRAY[] AS text[])) AS types
            FROM search_indices WHERE type = ANY(:types)
        ) indexed
        LEFT JOIN page ON true
        ORDER BY {page_order}
    """
