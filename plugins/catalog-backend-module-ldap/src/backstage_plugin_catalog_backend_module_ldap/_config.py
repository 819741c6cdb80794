"""`catalog.providers.ldapOrg.<id>` as Backstage reads it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from backstage_backend_plugin_api import (
    SchedulerServiceTaskScheduleDefinition,
    read_scheduler_service_task_schedule_definition_from_config,
)
from backstage_common.config import Config
from backstage_common.errors import InputError

__all__ = [
    "LdapProviderConfig",
    "SearchOptions",
    "SearchSpec",
    "read_ldap_provider_configs",
]

Scope = Literal["base", "one", "sub"]

_USER_MAP = {
    "rdn": "uid",
    "name": "uid",
    "description": "description",
    "displayName": "cn",
    "email": "mail",
    "picture": "",
    "memberOf": "memberOf",
}
_GROUP_MAP = {
    "rdn": "cn",
    "name": "cn",
    "description": "description",
    "type": "groupType",
    "displayName": "cn",
    "email": "",
    "picture": "",
    "memberOf": "memberOf",
    "members": "member",
}


@dataclass(frozen=True, slots=True)
class SearchOptions:
    """One search's options.

    Args:
        scope: `base`, `one` or `sub`.
        filter: the LDAP filter, whitespace next to parentheses removed.
        attributes: the attributes asked for (`*` and `+` by default).
        paged: the page size of a paged search; None: not paged.
        size_limit: the most entries the server should return (0: no limit).
        time_limit: the most seconds the server should search (0: no limit).
    """

    scope: Scope = "one"
    filter: str = "(objectClass=*)"
    attributes: tuple[str, ...] = ("*", "+")
    paged: int | None = None
    size_limit: int = 0
    time_limit: int = 0


@dataclass(frozen=True, slots=True)
class SearchSpec:
    """A `users` or `groups` entry: where to search, how, and how entries map to fields.

    Args:
        dn: the search base.
        options: the search's options.
        mapping: entity field (`rdn`, `name`, `displayName`, ...) to attribute name; an
            empty name maps nothing.
        set: dotted entity paths set to fixed values before the mapping.
    """

    dn: str
    options: SearchOptions = SearchOptions()
    mapping: dict[str, str] = field(default_factory=dict)
    set: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LdapProviderConfig:
    """One `ldapOrg` provider.

    Args:
        id: the key under `catalog.providers.ldapOrg`.
        target: `ldap://` or `ldaps://host[:port]`.
        bind_dn: the simple bind's DN; None binds anonymously.
        bind_secret: the simple bind's password.
        users: the user searches.
        groups: the group searches.
        schedule: when the provider reads the directory.
        dn_attribute: overrides the detected vendor's DN attribute.
        uuid_attribute: overrides the detected vendor's UUID attribute.
        reject_unauthorized: whether an `ldaps://` server's certificate must be trusted
            (`tls.rejectUnauthorized`, default true).
        client_key_file: a PEM key file presented to the server (`tls.keys`).
        client_certificate_file: its PEM certificate file (`tls.certs`); both or neither.
    """

    id: str
    target: str
    bind_dn: str | None
    bind_secret: str | None
    users: tuple[SearchSpec, ...]
    groups: tuple[SearchSpec, ...]
    schedule: SchedulerServiceTaskScheduleDefinition
    dn_attribute: str | None = None
    uuid_attribute: str | None = None
    reject_unauthorized: bool = True
    client_key_file: str | None = None
    client_certificate_file: str | None = None

    def __repr__(self) -> str:
        return f"LdapProviderConfig(id={self.id!r}, target={self.target!r})"


def _filter(value: str) -> str:
    return re.sub(r"\s*([()])\s*", r"\1", value.strip())


def _options(config: Config | None) -> SearchOptions:
    if config is None:
        return SearchOptions()
    scope = config.get_optional_string("scope") or "one"
    if scope not in ("base", "one", "sub"):
        raise InputError(f"{config.full_key('scope')} must be base, one or sub, not {scope!r}")
    paged_value = config.get_optional("paged")
    paged: int | None = None
    if paged_value is True:
        paged = 500
    elif isinstance(paged_value, dict):
        paged = int(config.get_optional_number("paged.pageSize") or 500)
    elif paged_value not in (None, False):
        raise InputError(f"{config.full_key('paged')} must be a boolean or {{pageSize}}")
    attributes = config.get_optional_string_array("attributes")
    return SearchOptions(
        scope=scope,  # type: ignore[arg-type]  # checked above
        filter=_filter(config.get_optional_string("filter") or "(objectClass=*)"),
        attributes=tuple(attributes) if attributes else ("*", "+"),
        paged=paged,
        size_limit=int(config.get_optional_number("sizeLimit") or 0),
        time_limit=int(config.get_optional_number("timeLimit") or 0),
    )


def _specs(config: Config, key: str, defaults: dict[str, str]) -> tuple[SearchSpec, ...]:
    value = config.get_optional(key)
    if value is None:
        raise InputError(f"{config.full_key(key)} is required")
    blocks = config.get_config_array(key) if isinstance(value, list) else [config.get_config(key)]
    specs = []
    for block in blocks:
        mapping = dict(defaults)
        map_block = block.get_optional_config("map")
        for name in map_block.keys() if map_block else []:
            if name not in defaults:
                raise InputError(f"{map_block.full_key(name)} is not a known mapping")  # type: ignore[union-attr]
            mapped = map_block.get_optional_string(name)  # type: ignore[union-attr]
            if mapped is not None:  # null keeps the default, as in Backstage
                mapping[name] = mapped
        set_value = block.get_optional("set")
        specs.append(
            SearchSpec(
                dn=block.get_string("dn"),
                options=_options(block.get_optional_config("options")),
                mapping=mapping,
                set=dict(set_value) if isinstance(set_value, dict) else {},
            )
        )
    return tuple(specs)


def _read_one(id: str, config: Config) -> LdapProviderConfig:
    target = config.get_string("target").rstrip("/")
    if not target.startswith(("ldap://", "ldaps://")):
        raise InputError(f"{config.full_key('target')} must be an ldap:// or ldaps:// URL")
    if not config.has("schedule"):
        raise InputError(f"{config.full_key('schedule')} is required")
    keys = config.get_optional_string("tls.keys")
    certs = config.get_optional_string("tls.certs")
    return LdapProviderConfig(
        id=id,
        target=target,
        bind_dn=config.get_optional_string("bind.dn"),
        bind_secret=config.get_optional_string("bind.secret"),
        users=_specs(config, "users", _USER_MAP),
        groups=_specs(config, "groups", _GROUP_MAP),
        schedule=read_scheduler_service_task_schedule_definition_from_config(
            config.get_config("schedule")
        ),
        dn_attribute=config.get_optional_string("vendor.dnAttributeName"),
        uuid_attribute=config.get_optional_string("vendor.uuidAttributeName"),
        reject_unauthorized=config.get_optional_boolean("tls.rejectUnauthorized") is not False,
        # as in Backstage, a client certificate is used only when both files are given
        client_key_file=keys if keys and certs else None,
        client_certificate_file=certs if keys and certs else None,
    )


def read_ldap_provider_configs(root: Config) -> list[LdapProviderConfig]:
    """Every provider under `catalog.providers.ldapOrg` (none when the key is absent).

    Args:
        root: the root config.

    Raises:
        InputError: a provider's block is incomplete or has a wrong value.
    """
    block = root.get_optional_config("catalog.providers.ldapOrg")
    if block is None:
        return []
    return [_read_one(id, block.get_config(id)) for id in block.keys()]
