"""The ldapOrg provider against a real slapd seeded with a small company."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import pytest
from backstage_backend_test_utils import MockScheduler
from backstage_backend_test_utils.slapd import SUFFIX, Slapd
from backstage_common.config import Config
from backstage_common.errors import AuthenticationError, InputError, ServiceUnavailableError
from backstage_plugin_catalog_backend_module_ldap import (
    LdapOrgEntityProvider,
    read_ldap_provider_configs,
)
from backstage_plugin_catalog_node import EntityProviderMutation, FullMutation


class Recorder:
    """The catalog's side of a connection: the mutations applied."""

    def __init__(self) -> None:
        self.mutations: list[EntityProviderMutation] = []

    async def apply_mutation(self, mutation: EntityProviderMutation) -> None:
        self.mutations.append(mutation)

    async def refresh(self, keys: Sequence[str]) -> None:
        raise AssertionError("not expected")

    def last(self) -> dict[str, dict[str, Any]]:
        mutation = self.mutations[-1]
        assert isinstance(mutation, FullMutation)
        return {
            f"{d.entity['kind'].lower()}:{d.entity['metadata']['name']}": d.entity
            for d in mutation.entities
        }


def provider_config(slapd: Slapd, **overrides: Any) -> dict[str, Any]:
    block: dict[str, Any] = {
        "target": slapd.url,
        "bind": {"dn": slapd.admin_dn, "secret": slapd.admin_password},
        "schedule": {"frequency": {"minutes": 30}, "timeout": {"minutes": 3}},
        "users": {
            "dn": f"ou=people,{SUFFIX}",
            "options": {"filter": "(objectClass=inetOrgPerson)"},
        },
        "groups": {
            "dn": f"ou=groups,{SUFFIX}",
            "options": {"filter": "(\n  objectClass=groupOfNames\n)"},
        },
    }
    block.update(overrides)
    return {"catalog": {"providers": {"ldapOrg": {"acme": block}}}}


async def connected(
    config: dict[str, Any],
) -> tuple[LdapOrgEntityProvider, Recorder, MockScheduler]:
    [parsed] = read_ldap_provider_configs(Config.from_data(config))
    schedules = MockScheduler()
    provider = LdapOrgEntityProvider(parsed, schedules, logging.getLogger("ldap"))  # type: ignore[arg-type]
    recorder = Recorder()
    await provider.connect(recorder)
    return provider, recorder, schedules


async def test_users_groups_and_nested_membership(slapd: Slapd) -> None:
    _, recorder, schedules = await connected(provider_config(slapd))
    [task] = await schedules.get_scheduled_tasks()
    assert task.id == "LdapOrgEntityProvider:acme:refresh"
    assert task.settings == {"version": 2, "cadence": "PT30M", "timeoutAfterDuration": "PT3M"}

    await schedules.trigger_task(task.id)
    entities = recorder.last()
    assert sorted(entities) == [
        "group:backend", "group:engineering", "group:frontend", "group:management",
        "user:alice", "user:bob", "user:carol", "user:dave",
    ]  # fmt: skip
    alice = entities["user:alice"]
    assert alice["apiVersion"] == "backstage.io/v1beta1"
    assert alice["metadata"]["description"] == "Backend lead"
    assert alice["spec"]["profile"] == {"displayName": "Alice Archer", "email": "alice@acme.org"}
    assert alice["spec"]["memberOf"] == ["group:default/backend", "group:default/management"]
    annotations = alice["metadata"]["annotations"]
    assert annotations["backstage.io/ldap-dn"] == f"uid=alice,ou=people,{SUFFIX}"
    assert annotations["backstage.io/ldap-rdn"] == "alice"
    assert len(annotations["backstage.io/ldap-uuid"]) == 36
    location = "ldap://acme/uid%3Dalice%2Cou%3Dpeople%2Cdc%3Dacme%2Cdc%3Dorg"
    assert annotations["backstage.io/managed-by-location"] == location
    assert annotations["backstage.io/managed-by-origin-location"] == location
    # two mail values: a scalar field takes only a single-valued attribute
    assert "email" not in entities["user:carol"]["spec"]["profile"]

    engineering = entities["group:engineering"]["spec"]
    assert engineering["children"] == ["group:default/backend", "group:default/frontend"]
    assert engineering["type"] == "unknown"
    assert "parent" not in engineering
    assert entities["group:backend"]["spec"]["parent"] == "group:default/engineering"
    assert entities["group:frontend"]["spec"]["parent"] == "group:default/engineering"
    assert entities["user:dave"]["spec"]["memberOf"] == ["group:default/management"]
    mutation = recorder.mutations[-1]
    assert isinstance(mutation, FullMutation)
    assert {d.location_key for d in mutation.entities} == {"ldap-org-provider:acme"}


async def test_an_entry_the_directory_dropped_leaves_the_next_full_mutation(
    slapd: Slapd,
) -> None:
    provider, recorder, _ = await connected(provider_config(slapd))
    await provider.read()
    assert "user:bob" in recorder.last()
    slapd.modify(
        f"dn: cn=backend,ou=groups,{SUFFIX}\nchangetype: modify\ndelete: member\n"
        f"member: uid=bob,ou=people,{SUFFIX}\n\n"
        f"dn: uid=bob,ou=people,{SUFFIX}\nchangetype: delete\n\n"
        f"dn: cn=frontend,ou=groups,{SUFFIX}\nchangetype: modify\nadd: member\n"
        f"member: uid=dave,ou=people,{SUFFIX}\n"
    )
    await provider.read()
    entities = recorder.last()
    assert "user:bob" not in entities
    assert entities["user:dave"]["spec"]["memberOf"] == [
        "group:default/frontend",
        "group:default/management",
    ]
    assert len(recorder.mutations) == 2
    assert all(isinstance(m, FullMutation) for m in recorder.mutations)


async def test_custom_mapping_scope_and_paged_search(slapd: Slapd) -> None:
    config = provider_config(
        slapd,
        users={
            "dn": SUFFIX,
            "options": {"scope": "sub", "filter": "(uid=*)", "paged": {"pageSize": 2}},
            "map": {"name": "cn", "displayName": "sn", "email": "uid"},
            "set": {"metadata.namespace": "default", "spec.profile.picture": "x"},
        },
    )
    provider, recorder, _ = await connected(config)
    await provider.read()
    users = {k: v for k, v in recorder.last().items() if k.startswith("user:")}
    assert sorted(users) == [
        "user:Alice Archer",
        "user:Bob Baker",
        "user:Carol Cole",
        "user:Dave Dunn",
    ]
    assert users["user:Bob Baker"]["spec"]["profile"] == {
        "displayName": "Baker", "email": "bob", "picture": "x",
    }  # fmt: skip


async def test_a_refused_bind_applies_nothing(slapd: Slapd) -> None:
    config = provider_config(slapd, bind={"dn": slapd.admin_dn, "secret": "wrong"})
    provider, recorder, schedules = await connected(config)
    with pytest.raises(AuthenticationError):
        await provider.read()
    # a scheduled run logs the failure and keeps the catalog as is
    await schedules.trigger_task("LdapOrgEntityProvider:acme:refresh")
    assert schedules.last_error("LdapOrgEntityProvider:acme:refresh") is None
    assert recorder.mutations == []


async def test_an_entry_without_a_name_aborts_the_whole_read(slapd: Slapd) -> None:
    config = provider_config(slapd, users={"dn": f"ou=people,{SUFFIX}", "map": {"name": "mail"}})
    provider, recorder, _ = await connected(config)
    with pytest.raises(InputError, match="uid=dave"):
        await provider.read()
    assert recorder.mutations == []


async def test_an_unreachable_directory_applies_nothing(slapd: Slapd) -> None:
    config = provider_config(slapd, target="ldap://127.0.0.1:1")
    provider, recorder, _ = await connected(config)
    with pytest.raises(ServiceUnavailableError):
        await provider.read()
    assert recorder.mutations == []


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"target": "http://example.com"}, "ldap:// or ldaps://"),
        ({"schedule": None}, "schedule is required"),
        ({"users": None}, "users is required"),
        ({"groups": {"dn": "x", "options": {"scope": "deep"}}}, "base, one or sub"),
        ({"groups": {"dn": "x", "map": {"colour": "c"}}}, "not a known mapping"),
    ],
)
def test_bad_config_is_refused(override: dict[str, Any], message: str) -> None:
    config = provider_config(Slapd("ldap://127.0.0.1:389"), **override)
    block = config["catalog"]["providers"]["ldapOrg"]["acme"]
    for key in [k for k, v in block.items() if v is None]:
        del block[key]
    with pytest.raises(InputError, match=message):
        read_ldap_provider_configs(Config.from_data(config))


def test_the_config_schema_knows_every_key_and_masks_the_bind_secret() -> None:
    from backstage_common.config import ConfigSchema

    config = provider_config(Slapd("ldap://127.0.0.1:389"))
    block = config["catalog"]["providers"]["ldapOrg"]["acme"]
    block["users"]["map"] = {"name": "cn", "memberOf": None}
    block["groups"] = [block["groups"], {"dn": "ou=teams", "options": {"paged": True}}]
    schema = ConfigSchema.from_entry_points()
    validation = schema.validate(Config.from_data(config))
    assert not validation.errors
    assert not [w for w in validation.warnings if "ldapOrg" in w.key]
    masked = schema.mask_secrets(config)
    assert masked["catalog"]["providers"]["ldapOrg"]["acme"]["bind"]["secret"] == "<secret>"
    assert (
        masked["catalog"]["providers"]["ldapOrg"]["acme"]["bind"]["dn"] == "cn=admin,dc=acme,dc=org"
    )

    block["users"]["options"] = {"scope": "deep"}
    assert schema.validate(Config.from_data(config)).errors


async def test_ldaps_refuses_an_untrusted_certificate_unless_told(slapd: Slapd) -> None:
    # a server presenting a certificate no trusted CA signed could be anyone
    provider, recorder, _ = await connected(provider_config(slapd, target=slapd.ldaps_url))
    with pytest.raises(ServiceUnavailableError, match=r"(?i)certificate"):
        await provider.read()
    assert recorder.mutations == []

    trusting = provider_config(slapd, target=slapd.ldaps_url, tls={"rejectUnauthorized": False})
    provider, recorder, _ = await connected(trusting)
    await provider.read()
    assert "user:alice" in recorder.last()
