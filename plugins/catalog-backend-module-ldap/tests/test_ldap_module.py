"""The module's startup: one provider per `ldapOrg` block, bad blocks refused."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from backstage_backend_defaults import BackendStartupError
from backstage_backend_test_utils import start_test_backend
from backstage_plugin_catalog_backend_module_ldap import catalog_module_ldap_org_entity_provider
from backstage_plugin_catalog_node import catalog_processing_extension_point


class Processing:
    def __init__(self) -> None:
        self.providers: list[Any] = []

    def add_processor(self, *processors: Any) -> None:
        raise AssertionError("not expected")

    def add_entity_provider(self, *providers: Any) -> None:
        self.providers.extend(providers)


def block(**extra: Any) -> dict[str, Any]:
    return {
        "target": "ldap://127.0.0.1:9",  # never contacted here; nothing listens there
        "schedule": {"frequency": {"hours": 1}, "timeout": {"minutes": 5}},
        "users": {"dn": "ou=people,dc=example"},
        "groups": {"dn": "ou=groups,dc=example"},
        **extra,
    }


async def test_one_provider_per_block() -> None:
    processing = Processing()
    async with start_test_backend(
        features=[catalog_module_ldap_org_entity_provider()],
        config={"catalog": {"providers": {"ldapOrg": {"a": block(), "b": block()}}}},
        extension_points=[(catalog_processing_extension_point, processing)],
    ):
        pass
    assert [p.name for p in processing.providers] == [
        "LdapOrgEntityProvider:a",
        "LdapOrgEntityProvider:b",
    ]


async def test_a_block_without_a_schedule_stops_the_start() -> None:
    config = {"catalog": {"providers": {"ldapOrg": {"a": block(schedule=None)}}}}
    del config["catalog"]["providers"]["ldapOrg"]["a"]["schedule"]
    with pytest.raises(BackendStartupError, match="schedule is required"):
        async with start_test_backend(
            features=[catalog_module_ldap_org_entity_provider()],
            config=config,
            extension_points=[(catalog_processing_extension_point, Processing())],
        ):
            pass


def test_a_unit_hosting_the_module_imports_ldap3_only_when_it_reads() -> None:
    # a fresh interpreter: this test process has imported ldap3 long ago
    code = (
        "import sys\n"
        "import backstage_plugin_catalog_backend_module_ldap\n"
        "assert 'ldap3' not in sys.modules, 'imported with the module'\n"
        "from backstage_plugin_catalog_backend_module_ldap._directory import read_directory\n"
        "assert 'ldap3' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
