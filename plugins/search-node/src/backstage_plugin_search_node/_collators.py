"""Collators (where documents come from) and decorators (how they are amended)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Protocol

from backstage_plugin_search_node._documents import IndexableDocument

__all__ = ["DocumentCollatorFactory", "DocumentDecoratorFactory"]


class DocumentCollatorFactory(Protocol):
    """The documents of one type, e.g. `software-catalog`."""

    @property
    def type(self) -> str: ...

    def collate(self) -> AsyncIterator[IndexableDocument]:
        """Every document of the type, one at a time; called once per indexing run.
        Raising fails the run and keeps the previous index."""
        ...


class DocumentDecoratorFactory(Protocol):
    """Amends, drops or multiplies the documents of some types before they are indexed."""

    @property
    def types(self) -> Sequence[str] | None:
        """The types this decorator applies to; None for every type."""
        ...

    def decorate(
        self, documents: AsyncIterator[IndexableDocument]
    ) -> AsyncIterator[IndexableDocument]: ...
