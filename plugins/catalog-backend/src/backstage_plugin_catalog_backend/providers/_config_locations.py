"""`catalog.locations`: static locations from config, as the `ConfigLocationProvider`."""

from __future__ import annotations

from backstage_common.config import Config
from backstage_plugin_catalog_node import (
    DeferredEntity,
    EntityProviderConnection,
    FullMutation,
    LocationSpec,
)

from backstage_plugin_catalog_backend.processing import location_entity, resolve_target

__all__ = ["ConfigLocationProvider"]


class ConfigLocationProvider:
    """One Location entity per `catalog.locations` entry; `file` targets are made absolute
    against the working directory."""

    name = "ConfigLocationProvider"

    def __init__(self, config: Config) -> None:
        self._config = config

    def locations(self) -> list[LocationSpec]:
        found = []
        for entry in self._config.get_optional_config_array("catalog.locations") or []:
            type_ = entry.get_string("type")
            found.append(LocationSpec(type_, resolve_target(type_, entry.get_string("target"))))
        return found

    async def connect(self, connection: EntityProviderConnection) -> None:
        entities = [
            DeferredEntity(location_entity(location), str(location))
            for location in self.locations()
        ]
        await connection.apply_mutation(FullMutation(entities))
