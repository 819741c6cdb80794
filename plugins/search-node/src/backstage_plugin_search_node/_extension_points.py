"""The search plugin's extension points, for modules that add collators or an engine."""

from __future__ import annotations

from typing import Annotated, Protocol, TypeAlias

from backstage_backend_plugin_api import (
    ExtensionPoint,
    SchedulerServiceTaskScheduleDefinition,
    create_extension_point,
)

from backstage_plugin_search_node._collators import (
    DocumentCollatorFactory,
    DocumentDecoratorFactory,
)
from backstage_plugin_search_node._engine import SearchEngine

__all__ = [
    "SearchEngineRegistry",
    "SearchEngineRegistryExtensionPoint",
    "SearchIndexRegistry",
    "SearchIndexRegistryExtensionPoint",
    "search_engine_registry_extension_point",
    "search_index_registry_extension_point",
]


class SearchIndexRegistryExtensionPoint(Protocol):
    def add_collator(
        self,
        *,
        factory: DocumentCollatorFactory,
        schedule: SchedulerServiceTaskScheduleDefinition,
    ) -> None:
        """Index `factory.type` on `schedule`, as the task `search_index_<type>`.

        The schedule's scope is used with a shared index (Postgres); with an index kept in
        each process the task is always local, so that every replica builds its own."""
        ...

    def add_decorator(self, factory: DocumentDecoratorFactory) -> None: ...


class SearchEngineRegistryExtensionPoint(Protocol):
    def set_search_engine(self, engine: SearchEngine) -> None:
        """Use `engine` instead of the one `search.engine` selects; only one may be set."""
        ...


search_index_registry_extension_point: ExtensionPoint[SearchIndexRegistryExtensionPoint] = (
    create_extension_point(id="search.index.registry")
)
search_engine_registry_extension_point: ExtensionPoint[SearchEngineRegistryExtensionPoint] = (
    create_extension_point(id="search.engine.registry")
)

SearchIndexRegistry: TypeAlias = Annotated[
    SearchIndexRegistryExtensionPoint, search_index_registry_extension_point
]
"""Annotate a module's init parameter with this to receive the index registry."""
SearchEngineRegistry: TypeAlias = Annotated[
    SearchEngineRegistryExtensionPoint, search_engine_registry_extension_point
]
