"""The query statement of the Postgres engine, built from bound parameters only."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from backstage_plugin_search_node import FilterValue

__all__ = ["query_statement"]


def _filter_values(wanted: FilterValue) -> list[str]:
    items = wanted if isinstance(wanted, list) else [wanted]
    return [
        ("true" if item else "false") if isinstance(item, bool) else str(item).lower()
        for item in items
    ]


def _filter_conditions(filters: Mapping[str, FilterValue], params: dict[str, Any]) -> list[str]:
    """Per key: the document's value, or one of its array's values, equals one of the
    wanted values, ignoring case; keys are ANDed."""
    conditions = []
    for number, (key, wanted) in enumerate(filters.items()):
        params[f"filter_key_{number}"] = key
        params[f"filter_values_{number}"] = _filter_values(wanted)
        field = f"d.document -> CAST(:filter_key_{number} AS text)"
        values = f"CAST(:filter_values_{number} AS text[])"
        conditions.append(
            f"(lower(d.document ->> CAST(:filter_key_{number} AS text)) = ANY({values})"
            f" OR (jsonb_typeof({field}) = 'array' AND EXISTS ("
            f"SELECT 1 FROM jsonb_array_elements_text({field}) AS item"
            f" WHERE lower(item) = ANY({values}))))"
        )
    return conditions


def query_statement(
    *,
    has_term: bool,
    highlight: bool,
    filters: Mapping[str, FilterValue],
    params: dict[str, Any],
) -> str:
    """One statement, so that the generation lookup and the documents share a snapshot:
    an index swapped in meanwhile is seen whole or not at all.

    Expects `:types`, `:offset`, `:limit`, and with a term `:tsquery`, `:normalization`
    and (for highlights) `:headline_options`; adds the filter parameters to `params`."""
    conditions = [
        "d.generation IN (SELECT generation FROM search_indices WHERE type = ANY(:types))"
    ]
    if has_term:
        conditions.append("query @@ d.body")
    conditions += _filter_conditions(filters, params)
    rank = "ts_rank(d.body, query, :normalization)" if has_term else "0"
    sources = (
        "search_documents d, to_tsquery('english', :tsquery) query"
        if has_term
        else ("search_documents d")
    )
    order = "rank DESC, type_order, position" if has_term else "type_order, position"
    page = f"""
        SELECT d.type, d.document, d.position,
               array_position(CAST(:types AS text[]), d.type) AS type_order,
               {rank} AS rank, count(*) OVER () AS total
        FROM {sources}
        WHERE {" AND ".join(conditions)}
        ORDER BY {order}
        OFFSET :offset LIMIT :limit
    """
    if not (has_term and highlight):
        return page
    headlines = ", ".join(
        f"ts_headline('english', coalesce(page.document ->> '{name}', ''), query,"
        f" :headline_options) AS {name}_headline"
        for name in ("title", "text", "location")
    )
    return f"""
        SELECT page.*, {headlines}
        FROM ({page}) page, to_tsquery('english', :tsquery) query
        ORDER BY {order}
    """
