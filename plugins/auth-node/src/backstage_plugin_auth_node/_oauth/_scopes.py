"""Scopes of a flow: requested, granted (persisting providers), required and additional."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from backstage_common.config import Config

__all__ = ["ScopeSet", "split_scope"]

_SEPARATORS = re.compile(r"[\s|,]")


def split_scope(scope: str | None) -> list[str]:
    """Split a scope string on whitespace, `,` or `|`, as Backstage does."""
    return [part for part in _SEPARATORS.split(scope or "") if part]


def read_additional_scopes(config: Config) -> list[str]:
    value = config.get_optional("additionalScopes")
    if isinstance(value, str):
        return split_scope(value)
    return config.get_optional_string_array("additionalScopes") or []


class ScopeSet:
    """Joins the scope parts in Backstage's order, without duplicates."""

    def __init__(self, *, required: Sequence[str], additional: Sequence[str]) -> None:
        self._required = list(required)
        self._additional = list(additional)

    def combine(self, requested: Iterable[str], granted: Iterable[str]) -> str:
        parts = [*requested, *granted, *self._required, *self._additional]
        return " ".join(dict.fromkeys(parts))

    @staticmethod
    def already_granted(granted: Iterable[str], scope: str) -> bool:
        have = set(granted)
        return all(part in have for part in split_scope(scope))
