"""Knowing, before processing a Location entity to the end, that it would give the result
stored now: its definition and the version of every target it read are those of the
processing that gave that result.

That holds only when nothing else goes into the result: every processor is one of the
catalog's own (a module's processor may depend on anything), the entity has no
placeholders (they read other files, unversioned), every target was read by the URL
reader with an ETag (a file location has none), and the catalog rules are the same.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from backstage_plugin_catalog_node import CatalogProcessor

from backstage_plugin_catalog_backend.processing._builtin_processors import (
    AnnotateLocationProcessor,
    BuiltinKindsProcessor,
    FileReaderProcessor,
    PlaceholderProcessor,
    has_placeholder,
)
from backstage_plugin_catalog_backend.processing._entities import stable_hash
from backstage_plugin_catalog_backend.processing._rules import CatalogRules
from backstage_plugin_catalog_backend.processing._url_locations import UrlReaderProcessor

__all__ = ["UnchangedInputs"]

_OWN_PROCESSORS = (
    PlaceholderProcessor,
    BuiltinKindsProcessor,
    FileReaderProcessor,
    UrlReaderProcessor,
    AnnotateLocationProcessor,
)


class UnchangedInputs:
    """The inputs of a Location entity's processing, and whether they last gave the result
    stored now (kept by the URL reader processor, in the catalog's cache)."""

    def __init__(self, reader: UrlReaderProcessor, setup: str) -> None:
        """
        Args:
            reader: the URL reader processor, which keeps the records.
            setup: the hash of the processors and rules, part of every input.
        """
        self.reader = reader
        self._setup = setup

    @classmethod
    def of(
        cls, processors: Sequence[CatalogProcessor], rules: CatalogRules
    ) -> UnchangedInputs | None:
        """The inputs for these processors and rules, or None when a processor's output
        may depend on something else than its entity and the versions it read.

        Args:
            processors: the orchestrator's processors, in order.
            rules: the catalog rules the children are checked against.
        """
        readers = [p for p in processors if isinstance(p, UrlReaderProcessor)]
        if len(readers) != 1 or not all(type(p) in _OWN_PROCESSORS for p in processors):
            return None
        # The rules are frozen dataclasses: their repr is their content. Kept records
        # may outlive a restart (a shared cache), and new rules may refuse old children.
        setup = stable_hash([[type(p).__qualname__ for p in processors], repr(vars(rules))])
        return cls(readers[0], setup)

    def definition(self, unprocessed: Mapping[str, Any]) -> str | None:
        """The hash of what processing `unprocessed` depends on before it reads anything
        (the entity and the setup), or None when that is not all (placeholders).

        Args:
            unprocessed: the entity as stored, before processing.
        """
        if has_placeholder(unprocessed):
            return None
        return stable_hash({"setup": self._setup, "entity": unprocessed})

    @staticmethod
    def inputs(definition: str, reads: Sequence[tuple[str, str | None]]) -> str | None:
        """The hash of everything processing depends on, or None when that is not known
        (no target read, or one read without a version).

        Args:
            definition: the hash from `definition`.
            reads: each target read, with the version of what it gave.
        """
        if not reads or any(version is None for _, version in reads):
            return None
        return stable_hash([definition, reads])
