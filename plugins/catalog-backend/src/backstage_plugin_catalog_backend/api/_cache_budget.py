"""What the in-process caches of the catalog share: a tag and counts, their budget from the
config and the metrics of their hits, misses and bytes."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Set
from typing import Generic, Protocol, TypeVar

from backstage_backend_plugin_api import RootConfigService
from backstage_common.errors import InputError
from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation

__all__ = ["CountedCache", "TaggedCache", "cache_budget", "observe_caches"]

_V = TypeVar("_V")


class CountedCache(Protocol):
    """What the metrics read of a cache."""

    hits: int
    misses: int
    bytes: int


class TaggedCache(Generic[_V]):
    """Entries by key kept under one tag, a counter value (migration 0002), with their
    bytes and counts. Not thread-safe: one event loop uses it."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._tag = -1
        self._tagged_at = time.monotonic()
        self._entries: OrderedDict[str, _V] = OrderedDict()
        self.bytes = 0
        self.hits = 0
        """Entries served from memory."""
        self.misses = 0
        """Entries read from the database."""
        self.kept = 0
        """Entries kept."""

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def observe(self, counter: int) -> None:
        """A counter value read after a request began: a value past the tag empties the
        cache. What it holds then is exact for that request."""
        if counter > self._tag:
            self._clear()
            self._tag = counter
            self._tagged_at = time.monotonic()

    def _clear(self) -> None:
        self._entries.clear()
        self.bytes = 0


def cache_budget(config: RootConfigService, section: str, default: int) -> int | None:
    """`<section>.enabled` (default true) and `<section>.maxBytes` (default `default`): the
    cache's byte budget, or None when it is off (disabled, or a budget of 0)."""
    if config.get_optional_boolean(f"{section}.enabled") is False:
        return None
    key = f"{section}.maxBytes"
    max_bytes = config.get_optional_number(key)
    if max_bytes is None:
        return default
    if isinstance(max_bytes, bool) or max_bytes != int(max_bytes) or max_bytes < 0:
        raise InputError(f"Invalid {key} {max_bytes!r}: it must be a whole number of bytes")
    return int(max_bytes) or None


def _sum(caches: Set[CountedCache], attribute: str) -> Callable[..., Iterator[Observation]]:
    def observe(_options: CallbackOptions) -> Iterator[Observation]:
        yield Observation(sum(getattr(cache, attribute) for cache in list(caches)))

    return observe


def observe_caches(name: str, caches: Set[CountedCache], served: str, read: str) -> None:
    """Metrics `backstage.catalog.<name>.hits` (`served` from memory), `.misses` (`read`
    from the database) and `.bytes` over every live cache of `caches`, read when metrics
    are collected: nothing is added per request."""
    meter = metrics.get_meter("backstage_plugin_catalog_backend")
    meter.create_observable_counter(
        f"backstage.catalog.{name}.hits", callbacks=[_sum(caches, "hits")], description=served
    )
    meter.create_observable_counter(
        f"backstage.catalog.{name}.misses", callbacks=[_sum(caches, "misses")], description=read
    )
    meter.create_observable_gauge(
        f"backstage.catalog.{name}.bytes",
        callbacks=[_sum(caches, "bytes")],
        unit="By",
        description=f"Bytes the process's {name.replace('_', ' ')} holds (estimated)",
    )
