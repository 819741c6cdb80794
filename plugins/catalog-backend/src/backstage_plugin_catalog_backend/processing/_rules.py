"""`catalog.rules`: which kinds each location may bring into the catalog."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from backstage_common.config import Config
from backstage_plugin_catalog_node import LocationSpec

__all__ = ["CatalogRules", "resolve_target"]

_DEFAULT_ALLOW = ("Component", "API", "Location")


def resolve_target(type_: str, target: str) -> str:
    """File targets become absolute (relative to the working directory)."""
    if type_ == "file":
        return os.path.abspath(target)
    return target


@dataclass(frozen=True, slots=True)
class _Kind:
    kind: str
    spec_type: str | None = None


@dataclass(frozen=True, slots=True)
class _LocationMatcher:
    type: str
    exact: str | None = None
    pattern: str | None = None

    def matches(self, location: LocationSpec) -> bool:
        if location.type != self.type:
            return False
        if self.exact is not None:
            return resolve_target(self.type, self.exact) == location.target
        if self.pattern is not None:
            return fnmatchcase(location.target.lower(), self.pattern.lower())
        return True


@dataclass(frozen=True, slots=True)
class _Rule:
    allow: tuple[_Kind, ...]
    locations: tuple[_LocationMatcher, ...] | None

    def allows(self, entity: Mapping[str, Any], location: LocationSpec) -> bool:
        if self.locations is not None and not any(m.matches(location) for m in self.locations):
            return False
        kind = str(entity.get("kind", "")).lower()
        spec = entity.get("spec")
        spec_type = spec.get("type") if isinstance(spec, Mapping) else None
        return any(
            allowed.kind.lower() == kind
            and (allowed.spec_type is None or allowed.spec_type == spec_type)
            for allowed in self.allow
        )


def _kinds(rule: Config) -> tuple[_Kind, ...]:
    kinds = []
    allow = rule.get_optional("allow")
    for value in allow if isinstance(allow, list) else []:
        if isinstance(value, str):
            kinds.append(_Kind(value))
        elif isinstance(value, dict):
            kind = value.get("kind")
            spec_type = value.get("type", value.get("spec.type"))
            if isinstance(kind, str):
                kinds.append(_Kind(kind, spec_type if isinstance(spec_type, str) else None))
    return tuple(kinds)


class CatalogRules:
    """Global rules from `catalog.rules` (default: Component, API and Location from
    anywhere) plus each `catalog.locations[].rules`, which apply to that location only."""

    def __init__(self, rules: tuple[_Rule, ...]) -> None:
        self._rules = rules

    @classmethod
    def from_config(cls, config: Config) -> CatalogRules:
        rules: list[_Rule] = []
        configured = config.get_optional_config_array("catalog.rules")
        if configured is None:
            rules.append(_Rule(tuple(_Kind(kind) for kind in _DEFAULT_ALLOW), None))
        for rule in configured or []:
            matchers = None
            if rule.has("locations"):
                matchers = tuple(
                    _LocationMatcher(
                        entry.get_string("type"),
                        entry.get_optional_string("exact"),
                        entry.get_optional_string("pattern"),
                    )
                    for entry in rule.get_config_array("locations")
                )
            rules.append(_Rule(_kinds(rule), matchers))
        for location in config.get_optional_config_array("catalog.locations") or []:
            type_ = location.get_string("type")
            target = location.get_string("target")
            matcher = _LocationMatcher(type_, exact=target)
            for rule in location.get_optional_config_array("rules") or []:
                rules.append(_Rule(_kinds(rule), (matcher,)))
        return cls(tuple(rules))

    def is_allowed(self, entity: Mapping[str, Any], location: LocationSpec) -> bool:
        return any(rule.allows(entity, location) for rule in self._rules)
