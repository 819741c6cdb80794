"""Directory entries to User and Group entities, and their memberships resolved."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from backstage_common.errors import InputError

from backstage_plugin_catalog_backend_module_ldap._config import SearchSpec
from backstage_plugin_catalog_backend_module_ldap._records import LdapEntry, Vendor

__all__ = ["OrgEntities", "build_entities", "location_of"]

_RDN = "backstage.io/ldap-rdn"
_UUID = "backstage.io/ldap-uuid"
_DN = "backstage.io/ldap-dn"


@dataclass
class OrgEntities:
    """The users and groups read, sorted by name."""

    users: list[dict[str, Any]] = field(default_factory=list)
    groups: list[dict[str, Any]] = field(default_factory=list)


def _single(entry: LdapEntry, attribute: str) -> str | None:
    values = entry.values(attribute)
    return values[0] if len(values) == 1 else None  # Backstage ignores multi-valued ones


def _set_path(entity: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    target = entity
    for part in parents:
        target = target.setdefault(part, {})
    target[last] = value


def _base(kind: str, spec: SearchSpec, entry: LdapEntry, vendor: Vendor) -> dict[str, Any]:
    entity: dict[str, Any] = {
        "apiVersion": "backstage.io/v1beta1",
        "kind": kind,
        "metadata": {"name": "", "annotations": {}},
        "spec": {"profile": {}},
    }
    for path, value in spec.set.items():
        _set_path(entity, path, value)
    name = _single(entry, spec.mapping["name"])
    if not name:
        raise InputError(f"LDAP entry {entry.dn} has no single {spec.mapping['name']!r} value")
    entity["metadata"]["name"] = name
    description = _single(entry, spec.mapping["description"])
    if description:
        entity["metadata"]["description"] = description
    annotations = entity["metadata"]["annotations"]
    for annotation, value in (
        (_RDN, _single(entry, spec.mapping["rdn"])),
        (_UUID, _single(entry, vendor.uuid_attribute)),
        (_DN, _single(entry, vendor.dn_attribute) or entry.dn),
    ):
        if value:
            annotations[annotation] = value
    profile = entity["spec"]["profile"]
    for key in ("displayName", "email", "picture"):
        value = _single(entry, spec.mapping.get(key, ""))
        if value:
            profile[key] = value
    return entity


class _Index:
    """Finds an entity by any reference a directory may use for it."""

    def __init__(self) -> None:
        self._by_key: dict[str, dict[str, Any]] = {}

    def add(self, entity: dict[str, Any], ref: str) -> None:
        annotations = entity["metadata"]["annotations"]
        for key in (ref, annotations.get(_DN), annotations.get(_RDN), annotations.get(_UUID)):
            if key:
                self._by_key.setdefault(key, entity)
                self._by_key.setdefault(key.lower(), entity)

    def find(self, key: str) -> dict[str, Any] | None:
        return self._by_key.get(key) or self._by_key.get(key.lower())


def _ref(entity: dict[str, Any]) -> str:
    return f"{entity['kind'].lower()}:default/{entity['metadata']['name']}"


Edge = tuple[dict[str, Any], str, str]
"""(entity, `memberOf` or `members`, the referenced key)."""


def _resolve(
    index: _Index, edges: Sequence[Edge]
) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Each user's groups and each group's parents, by ref."""
    member_of: dict[str, set[str]] = {}
    parents: dict[str, set[str]] = {}
    for entity, direction, key in edges:
        other = index.find(key)
        if other is None:
            continue  # references outside what was read are dropped, as in Backstage
        if direction == "memberOf":
            if other["kind"] != "Group":
                continue
            member, group = entity, other
        else:
            member, group = other, entity
        if member["kind"] == "User":
            member_of.setdefault(_ref(member), set()).add(_ref(group))
        elif member is not group:
            parents.setdefault(_ref(member), set()).add(_ref(group))

    return member_of, parents


def build_entities(
    vendor: Vendor,
    users: Sequence[tuple[SearchSpec, LdapEntry]],
    groups: Sequence[tuple[SearchSpec, LdapEntry]],
) -> OrgEntities:
    """Users and groups with `memberOf`, `parent` and `children` filled in.

    Args:
        vendor: the directory's DN and UUID attributes.
        users: each user entry with the search that found it.
        groups: each group entry with the search that found it.

    Raises:
        InputError: an entry has no name; the whole read fails, as in Backstage.
    """
    index = _Index()
    user_entities: list[dict[str, Any]] = []
    group_entities: list[dict[str, Any]] = []
    edges: list[Edge] = []
    for spec, entry in users:
        user = _base("User", spec, entry, vendor)
        user["spec"]["memberOf"] = []
        index.add(user, _ref(user))
        user_entities.append(user)
        edges.extend((user, "memberOf", v) for v in entry.values(spec.mapping["memberOf"]))
    for spec, entry in groups:
        group = _base("Group", spec, entry, vendor)
        group["spec"]["type"] = _single(entry, spec.mapping.get("type", "")) or "unknown"
        group["spec"]["children"] = []
        index.add(group, _ref(group))
        group_entities.append(group)
        edges.extend((group, "memberOf", v) for v in entry.values(spec.mapping["memberOf"]))
        edges.extend((group, "members", v) for v in entry.values(spec.mapping["members"]))

    member_of, parents = _resolve(index, edges)
    by_ref = {_ref(g): g for g in group_entities}
    children: dict[str, set[str]] = {}
    for child, found in parents.items():
        for parent in found:
            children.setdefault(parent, set()).add(child)
        if len(found) == 1:  # a group with two parents gets none
            by_ref[child]["spec"]["parent"] = next(iter(found))
    for ref, group in by_ref.items():
        group["spec"]["children"] = sorted(children.get(ref, ()))
    for user in user_entities:
        user["spec"]["memberOf"] = sorted(member_of.get(_ref(user), ()))
    return OrgEntities(sorted(user_entities, key=_name), sorted(group_entities, key=_name))


def _name(entity: dict[str, Any]) -> str:
    return str(entity["metadata"]["name"])


def location_of(provider_id: str, entity: dict[str, Any]) -> str:
    """The `ldap://<provider id>/<encoded dn>` location an entity is managed by.

    Args:
        provider_id: the provider's id.
        entity: a built User or Group.
    """
    dn = entity["metadata"]["annotations"].get(_DN, "")
    return f"ldap://{provider_id}/{quote(dn, safe='')}"
