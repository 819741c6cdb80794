"""Config schemas: what the core and each plugin read, with types and visibility.

After Backstage's per-package `config.schema.json` (or `config.d.ts`): every package that
reads config declares its keys as a JSON Schema (draft 7) with Backstage's `visibility`
keyword (`frontend`, `backend`, the default, or `secret`) and `deepVisibility`. Packages
register their schema under the `backstage.config_schemas` entry-point group, naming the
Python package that holds a `config.schema.json`:

    [project.entry-points."backstage.config_schemas"]
    catalog = "backstage_plugin_catalog_backend.schema"

Validation follows Backstage's config loader: types are coerced as its `ajv` does
(`coerceTypes`: a number may be written as a string, as `${PORT}` substitution makes it,
and a string as a number or boolean), every package's schema must hold, and the errors name
the key and the file it came from. On top of that, a key that no schema knows is reported
as a warning with the closest known key.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from importlib.resources import files
from typing import Any

from backstage_common.config._errors import ConfigError
from backstage_common.config._reader import Config
from backstage_common.config._schema_issues import (
    ConfigIssue,
    issue_from_error,
    unknown_key_issue,
)
from backstage_common.config._schema_nodes import (
    ANY_VALUE,
    Visibility,
    allows_any_key,
    children,
    declared_visibility,
    expand,
    properties,
)
from backstage_common.config._schema_types import CoercingValidator

__all__ = [
    "CONFIG_SCHEMA_ENTRY_POINT_GROUP",
    "SECRET_MASK",
    "ConfigIssue",
    "ConfigSchema",
    "ConfigValidation",
    "PackageConfigSchema",
    "Visibility",
    "frontend_config",
    "load_package_schema",
]

CONFIG_SCHEMA_ENTRY_POINT_GROUP = "backstage.config_schemas"
SCHEMA_FILE_NAME = "config.schema.json"

SECRET_MASK = "<secret>"


@dataclass(frozen=True, slots=True)
class PackageConfigSchema:
    """One package's schema.

    Args:
        package: who declares it (the entry point's name, e.g. `catalog`, or a label).
        schema: a JSON Schema (draft 7) of the whole config, with `visibility` keywords.
    """

    package: str
    schema: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ConfigValidation:
    """What validating a config found.

    Args:
        errors: values the schemas refuse (wrong types, values outside an enum, ...); a
            start stops on any.
        warnings: keys no schema declares, each with the closest known key when there is one.
    """

    errors: tuple[ConfigIssue, ...] = ()
    warnings: tuple[ConfigIssue, ...] = ()

    def raise_for_errors(self) -> None:
        """Raise a `ConfigError` listing every error, if there is any."""
        if self.errors:
            lines = "\n".join(f"  {issue.message}" for issue in self.errors)
            raise ConfigError(f"Config validation failed:\n{lines}")


@dataclass(frozen=True)
class ConfigSchema:
    """The schemas of every installed package, merged as Backstage's loader merges them:
    each must hold, and a key is known when any declares it.

    Args:
        packages: the packages' schemas.
    """

    packages: tuple[PackageConfigSchema, ...]
    _validators: list[Any] = field(default_factory=list, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for package in self.packages:
            try:
                CoercingValidator.check_schema(package.schema)
            except Exception as error:
                raise ConfigError(
                    f"The config schema of '{package.package}' is not a valid JSON Schema: "
                    f"{getattr(error, 'message', error)}"
                ) from error
            self._validators.append(CoercingValidator(package.schema))

    @classmethod
    def from_entry_points(cls, *, group: str = CONFIG_SCHEMA_ENTRY_POINT_GROUP) -> ConfigSchema:
        """The schemas registered under `group` by the installed packages, each entry point
        naming a Python package that holds a `config.schema.json`."""
        packages = []
        for entry_point in sorted(entry_points(group=group), key=lambda ep: ep.name):
            packages.append(load_package_schema(entry_point.name, entry_point.value))
        return cls(tuple(packages))

    def validate(self, config: Config) -> ConfigValidation:
        """Check `config` (the merged sources) against every package's schema."""
        data = config.get_optional() or {}
        errors: dict[tuple[str, str], ConfigIssue] = {}
        for package, validator in zip(self.packages, self._validators, strict=True):
            for error in validator.iter_errors(data):
                issue = issue_from_error(config, error, package.package)
                errors.setdefault((issue.key, issue.message), issue)
        warnings = sorted(
            (unknown_key_issue(config, path, known) for path, known in self._unknown_keys(data)),
            key=lambda issue: issue.key,
        )
        return ConfigValidation(
            errors=tuple(sorted(errors.values(), key=lambda issue: issue.key)),
            warnings=tuple(warnings),
        )

    def visibility_of(self, path: Sequence[str | int], value: Any = None) -> Visibility:
        """The visibility of the value at `path`: the nearest declared one along the path
        (`deepVisibility` covers the whole subtree), `backend` when none is declared. With
        `value`, a visibility declared in one branch of an `anyOf`/`oneOf` counts only when
        the value matches that branch (a connection string may be secret where the object
        form is not)."""
        deep: Visibility | None = None
        nodes = [package.schema for package in self.packages]
        for depth in range(len(path)):
            deep = deep or declared_visibility(nodes, ANY_VALUE)[1]
            nodes = [child for node in nodes for child in children(node, path[depth])]
        declared, deep_here = declared_visibility(nodes, value)
        return declared or deep or deep_here or "backend"

    def filter_by_visibility(
        self, data: Mapping[str, Any], visibilities: Sequence[Visibility]
    ) -> dict[str, Any]:
        """The parts of `data` whose visibility is one of `visibilities`: for the frontend,
        `['frontend']`, as Backstage's app backend injects them. Objects keep only what
        remains inside them; an empty object survives only when it is itself visible."""
        wanted = frozenset(visibilities)
        kept = self._filter(data, [], wanted)
        return kept if isinstance(kept, dict) else {}

    def mask_secrets(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """`data` with every `secret` value replaced by `<secret>`."""
        masked = self._mask(copy.deepcopy(dict(data)), [])
        assert isinstance(masked, dict)
        return masked

    # -- walking ---------------------------------------------------------------------------

    def _filter(self, value: Any, path: list[str | int], wanted: frozenset[str]) -> Any:
        if isinstance(value, Mapping):
            out = {}
            for key, child in value.items():
                kept = self._filter(child, [*path, key], wanted)
                if kept is not _DROPPED:
                    out[key] = kept
            if out or (path and self.visibility_of(path, value) in wanted):
                return out
            return _DROPPED if path else out
        if isinstance(value, list):
            items = [self._filter(item, [*path, i], wanted) for i, item in enumerate(value)]
            kept_items = [item for item in items if item is not _DROPPED]
            if kept_items or self.visibility_of(path, value) in wanted:
                return kept_items
            return _DROPPED
        return value if self.visibility_of(path, value) in wanted else _DROPPED

    def _mask(self, value: Any, path: list[str | int]) -> Any:
        if path and value is not None and self.visibility_of(path, value) == "secret":
            return SECRET_MASK
        if isinstance(value, dict):
            return {key: self._mask(child, [*path, key]) for key, child in value.items()}
        if isinstance(value, list):
            return [self._mask(item, [*path, i]) for i, item in enumerate(value)]
        return value

    def _unknown_keys(self, data: Any) -> Iterator[tuple[list[str | int], list[str]]]:
        """(path of an unknown key, the known keys beside it), not descending below one."""
        stack: list[tuple[Any, list[str | int], list[Mapping[str, Any]]]] = [
            (data, [], [package.schema for package in self.packages])
        ]
        while stack:
            value, path, nodes = stack.pop()
            if not nodes:
                continue
            if isinstance(value, Mapping):
                if allows_any_key(nodes):
                    continue
                known = sorted({name for node in expand(nodes) for name in properties(node)})
                for key in value:
                    described = [child for node in nodes for child in children(node, key)]
                    if described:
                        stack.append((value[key], [*path, key], described))
                    else:
                        yield [*path, key], known
            elif isinstance(value, list):
                for index, item in enumerate(value):
                    described = [child for node in nodes for child in children(node, index)]
                    stack.append((item, [*path, index], described))


_DROPPED: Any = object()


def load_package_schema(name: str, package: str) -> PackageConfigSchema:
    """The `config.schema.json` of the Python package `package`, labelled `name`."""
    try:
        text = files(package).joinpath(SCHEMA_FILE_NAME).read_text(encoding="utf-8")
        schema = json.loads(text)
    except (ModuleNotFoundError, FileNotFoundError, ValueError) as error:
        raise ConfigError(
            f"The config schema '{name}' ({package}/{SCHEMA_FILE_NAME}) cannot be read: {error}"
        ) from error
    if not isinstance(schema, dict):
        raise ConfigError(f"The config schema '{name}' is not a JSON object")
    return PackageConfigSchema(package=name, schema=schema)


def frontend_config(config: Config, schema: ConfigSchema | None = None) -> dict[str, Any]:
    """The part of `config` the frontend may see: the values whose schema visibility is
    `frontend`, as Backstage's app backend injects them into the app.

    Args:
        config: the backend's root config.
        schema: the schemas to read visibilities from; default: the installed packages'
            (`backstage.config_schemas` entry points).
    """
    schema = schema if schema is not None else ConfigSchema.from_entry_points()
    data = config.get_optional()
    return schema.filter_by_visibility(data if isinstance(data, dict) else {}, ["frontend"])
