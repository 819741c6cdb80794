"""Flattening a final entity into the rows of the catalog's `search` table (filters, sorting,
facets), and of the `HAS_METADATA` / `HAS_SPEC` permission rules, which must see an entity
exactly as the table does.

Each row is `(key, value, original_value)`: the dotted path lowercased, its value lowercased,
and the value as written. Arrays put every element under the array's own path, and each
string element also gives a `<path>.<element>` row with the value `true`, so that
`metadata.tags.java` works as an existence filter.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from backstage_common.errors import InputError

__all__ = ["MAX_KEY_LENGTH", "MAX_VALUE_LENGTH", "SearchRow", "search_rows"]

MAX_KEY_LENGTH = 200
MAX_VALUE_LENGTH = 200

SearchRow = tuple[str, str | None, str | None]

_SKIPPED_PATHS = frozenset(
    {
        "attachments",
        "relations",
        "status",
        "metadata.name",
        "metadata.namespace",
        "metadata.uid",
        "metadata.etag",
    }
)


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _walk(path: str, value: Any) -> Iterator[tuple[str, Any]]:
    if path in _SKIPPED_PATHS:
        return
    if isinstance(value, Mapping):
        for key, child in value.items():
            yield from _walk(f"{path}.{key}" if path else str(key), child)
    elif isinstance(value, list):
        seen: set[str] = set()
        for element in value:
            yield from _walk(path, element)
            if isinstance(element, str) and element.lower() not in seen:
                seen.add(element.lower())
                yield f"{path}.{element}", True
    else:
        yield path, value


def _row(key: str, value: Any) -> SearchRow | None:
    lowered_key = key.lower()
    if len(lowered_key) > MAX_KEY_LENGTH:
        return None
    text = _as_text(value)
    if text is None:
        return lowered_key, None, None
    lowered = text.lower()
    if len(lowered) > MAX_VALUE_LENGTH:
        return lowered_key, None, None
    return lowered_key, lowered, text


def search_rows(entity: Mapping[str, Any]) -> list[SearchRow]:
    """The search rows of a final entity, deduplicated on (key, value).

    Raises InputError when two keys differ only in case, as such an entity cannot be
    filtered unambiguously.
    """
    metadata = entity.get("metadata") or {}
    pairs: list[tuple[str, Any]] = list(_walk("", entity))
    pairs.append(("metadata.name", metadata.get("name")))
    pairs.append(("metadata.namespace", metadata.get("namespace") or "default"))
    pairs.append(("metadata.uid", metadata.get("uid")))
    for relation in entity.get("relations") or ():
        pairs.append((f"relations.{relation['type']}", relation["targetRef"]))

    rows: list[SearchRow] = []
    seen: set[tuple[str, str | None]] = set()
    spellings: dict[str, str] = {}
    for key, value in pairs:
        row = _row(key, value)
        if row is None:
            continue
        first_spelling = spellings.setdefault(row[0], key)
        if first_spelling != key and not key.startswith("relations."):
            raise InputError(
                "Entity has duplicate keys that vary only in casing, "
                f"'{first_spelling}' and '{key}'"
            )
        if (row[0], row[1]) in seen:
            continue
        seen.add((row[0], row[1]))
        rows.append(row)
    return rows
