"""The search plugin's own config: the engine, the query limits, and how long filtering
results by permission may take."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from backstage_common.config import Config
from backstage_common.errors import InputError

__all__ = ["EngineName", "SearchSettings", "read_search_settings"]

EngineName = Literal["memory", "postgres"]
_ENGINES: tuple[EngineName, ...] = ("memory", "postgres")


@dataclass(frozen=True)
class SearchSettings:
    engine: EngineName = "memory"
    max_page_limit: int = 100
    max_term_length: int = 100
    query_latency_budget_s: float = 1.0
    """How long a query may go on reading the engine to fill a page with results the reader
    may see (`search.permissions.queryLatencyBudgetMs`)."""


def _limit(config: Config, key: str, default: int) -> int:
    value = config.get_optional_number(key)
    if value is None:
        return default
    if not float(value).is_integer() or value < 1:
        raise InputError(f"Invalid {key}: must be a whole number greater than zero")
    return int(value)


def read_search_settings(config: Config) -> SearchSettings:
    """`search.engine` (`memory`, the default, or `postgres`), `search.maxPageLimit` and
    `search.maxTermLength` (100 each), `search.permissions.queryLatencyBudgetMs` (1000)."""
    engine = config.get_optional_string("search.engine") or "memory"
    if engine not in _ENGINES:
        raise InputError(f"Invalid search.engine '{engine}': use one of {', '.join(_ENGINES)}")
    defaults = SearchSettings()
    return SearchSettings(
        engine="postgres" if engine == "postgres" else "memory",
        max_page_limit=_limit(config, "search.maxPageLimit", defaults.max_page_limit),
        max_term_length=_limit(config, "search.maxTermLength", defaults.max_term_length),
        query_latency_budget_s=_limit(config, "search.permissions.queryLatencyBudgetMs", 1000)
        / 1000,
    )
