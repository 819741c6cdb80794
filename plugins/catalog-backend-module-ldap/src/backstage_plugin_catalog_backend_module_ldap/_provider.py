"""The `ldapOrg` entity provider and the catalog module that registers one per config block."""

from __future__ import annotations

import asyncio
from typing import Any

from backstage_backend_plugin_api import (
    BackendModule,
    LoggerService,
    ModuleRegistrationPoints,
    SchedulerService,
    create_backend_module,
)
from backstage_backend_plugin_api import core_services as core
from backstage_plugin_catalog_node import (
    CatalogProcessing,
    DeferredEntity,
    FullMutation,
    ScheduledEntityProvider,
)

from backstage_plugin_catalog_backend_module_ldap._config import (
    LdapProviderConfig,
    read_ldap_provider_configs,
)
from backstage_plugin_catalog_backend_module_ldap._entities import build_entities, location_of

__all__ = ["LdapOrgEntityProvider", "catalog_module_ldap_org_entity_provider"]


def _with_location(entity: dict[str, Any], location: str) -> dict[str, Any]:
    annotations = entity["metadata"]["annotations"]
    # merged under the entity: values the entity already has (from `set`) win
    entity["metadata"]["annotations"] = {
        "backstage.io/managed-by-location": location,
        "backstage.io/managed-by-origin-location": location,
        **annotations,
    }
    return entity


class LdapOrgEntityProvider(ScheduledEntityProvider[LdapProviderConfig]):
    """Users and groups of an LDAP directory, read on the provider's schedule and applied
    as one full mutation (an entry gone from the directory leaves the catalog).

    Args:
        config: the provider's config block.
        scheduler: the catalog's scheduler, which runs `<name>:refresh`.
        logger: where failed reads are logged.
    """

    name_prefix = "LdapOrgEntityProvider"

    def __init__(
        self, config: LdapProviderConfig, scheduler: SchedulerService, logger: LoggerService
    ) -> None:
        super().__init__(config, scheduler, logger, failure=f"failed to read {config.target}")
        self._lock = asyncio.Lock()

    @property
    def location_key(self) -> str:
        """`ldap-org-provider:<id>`, the key every emitted entity carries."""
        return f"ldap-org-provider:{self._config.id}"

    async def read(self) -> None:
        """Read the directory now and replace what this provider emitted before.

        Raises:
            AuthenticationError: the bind was refused.
            ServiceUnavailableError: the directory cannot be reached or a search failed.
            InputError: an entry has no name (nothing is applied).
        """
        # ldap3 (several MB, tens of ms) is imported by the first read, not by every unit
        # that hosts the module
        from backstage_plugin_catalog_backend_module_ldap._directory import read_directory

        connection = self._connected()
        async with self._lock:
            vendor, users, groups = await read_directory(self._config)
            built = build_entities(vendor, users, groups)
            entities = [
                DeferredEntity(
                    _with_location(entity, location_of(self._config.id, entity)),
                    self.location_key,
                )
                for entity in [*built.users, *built.groups]
            ]
            await connection.apply_mutation(FullMutation(entities))
            self._logger.info(
                f"{self.name} read {len(built.users)} users and {len(built.groups)} groups"
            )


def _register(env: ModuleRegistrationPoints) -> None:
    async def init(
        config: core.RootConfig,
        logger: core.Logger,
        scheduler: core.Scheduler,
        processing: CatalogProcessing,
    ) -> None:
        for provider_config in read_ldap_provider_configs(config):
            processing.add_entity_provider(
                LdapOrgEntityProvider(provider_config, scheduler, logger)
            )

    env.register_init(init)


def catalog_module_ldap_org_entity_provider() -> BackendModule:
    """One `LdapOrgEntityProvider` per `catalog.providers.ldapOrg.<id>` block (`target`,
    `bind`, `users`, `groups`, `schedule`; see the README)."""
    return create_backend_module(
        plugin_id="catalog", module_id="ldapOrgEntityProvider", register=_register
    )
