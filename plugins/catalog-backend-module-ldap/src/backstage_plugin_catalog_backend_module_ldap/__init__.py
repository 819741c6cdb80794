"""backstage_plugin_catalog_backend_module_ldap: users and groups from LDAP.

`catalog_module_ldap_org_entity_provider()` reads `catalog.providers.ldapOrg.<id>` and
registers an `LdapOrgEntityProvider` for each block, on the block's `schedule`.
"""

from backstage_plugin_catalog_backend_module_ldap._config import (
    LdapProviderConfig,
    SearchOptions,
    SearchSpec,
    read_ldap_provider_configs,
)
from backstage_plugin_catalog_backend_module_ldap._entities import OrgEntities, build_entities
from backstage_plugin_catalog_backend_module_ldap._provider import (
    LdapOrgEntityProvider,
    catalog_module_ldap_org_entity_provider,
)
from backstage_plugin_catalog_backend_module_ldap._records import LdapEntry, Vendor

__all__ = [
    "LdapEntry",
    "LdapOrgEntityProvider",
    "LdapProviderConfig",
    "OrgEntities",
    "SearchOptions",
    "SearchSpec",
    "Vendor",
    "build_entities",
    "catalog_module_ldap_org_entity_provider",
    "read_ldap_provider_configs",
]
