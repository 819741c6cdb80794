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
import difflib
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from importlib.resources import files
from typing import Any, Literal

from jsonschema import Draft7Validator
from jsonschema import validators as jsonschema_validators
from jsonschema.exceptions import ValidationError

from backstage_common.config._errors import ConfigError
from backstage_common.config._reader import Config

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

Visibility = Literal["frontend", "backend", "secret"]
_VISIBILITIES: frozenset[str] = frozenset({"frontend", "backend", "secret"})
_NUMBER = re.compile(r"^\s*-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$")
_INTEGER = re.compile(r"^\s*-?\d+\s*$")
_COMPOSITES = ("allOf", "anyOf", "oneOf")
SECRET_MASK = "<secret>"


def _is_number(checker: object, value: object) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    return isinstance(value, str) and bool(_NUMBER.match(value))


def _is_integer(checker: object, value: object) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        return True
    return isinstance(value, str) and bool(_INTEGER.match(value))


def _is_boolean(checker: object, value: object) -> bool:
    return isinstance(value, bool) or value in ("true", "false")


def _is_string(checker: object, value: object) -> bool:
    return isinstance(value, str | int | float)


# Backstage's loader validates with ajv's `coerceTypes`: what the config reader's getters
# accept (`getNumber('7007')`) is not a type error here either.
_CoercingValidator = jsonschema_validators.extend(  # type: ignore[no-untyped-call]
    Draft7Validator,
    type_checker=Draft7Validator.TYPE_CHECKER.redefine_many(
        {
            "number": _is_number,
            "integer": _is_integer,
            "boolean": _is_boolean,
            "string": _is_string,
        }
    ),
)


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
class ConfigIssue:
    """A problem found in the config.

    Args:
        key: the dotted key from the config root (`backend.listen.port`).
        context: the file (or `env`) the value came from, when known.
        message: what is wrong, naming the key and the file.
    """

    key: str
    context: str | None
    message: str


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
                _CoercingValidator.check_schema(package.schema)
            except Exception as error:
                raise ConfigError(
                    f"The config schema of '{package.package}' is not a valid JSON Schema: "
                    f"{getattr(error, 'message', error)}"
                ) from error
            self._validators.append(_CoercingValidator(package.schema))

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
                issue = _issue_from_error(config, error, package.package)
                errors.setdefault((issue.key, issue.message), issue)
        warnings = sorted(
            (_unknown_key_issue(config, path, known) for path, known in self._unknown_keys(data)),
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
            deep = deep or _declared_visibility(nodes, _ANY)[1]
            nodes = [child for node in nodes for child in _children(node, path[depth])]
        declared, deep_here = _declared_visibility(nodes, value)
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
                if _allows_any_key(nodes):
                    continue
                known = sorted({name for node in _expand(nodes) for name in _properties(node)})
                for key in value:
                    children = [child for node in nodes for child in _children(node, key)]
                    if children:
                        stack.append((value[key], [*path, key], children))
                    else:
                        yield [*path, key], known
            elif isinstance(value, list):
                for index, item in enumerate(value):
                    children = [child for node in nodes for child in _children(node, index)]
                    stack.append((item, [*path, index], children))


class _Marker:
    __slots__ = ()


_DROPPED: Any = _Marker()
_ANY: Any = _Marker()


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


def _expand(nodes: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The nodes and the branches of their `allOf`/`anyOf`/`oneOf`, recursively."""
    out: list[Mapping[str, Any]] = []
    pending = list(nodes)
    while pending:
        node = pending.pop()
        if not isinstance(node, Mapping):
            continue
        out.append(node)
        for keyword in _COMPOSITES:
            branches = node.get(keyword)
            if isinstance(branches, list):
                pending.extend(branches)
    return out


def _properties(node: Mapping[str, Any]) -> Mapping[str, Any]:
    properties = node.get("properties")
    return properties if isinstance(properties, Mapping) else {}


def _allows_any_key(nodes: Sequence[Mapping[str, Any]]) -> bool:
    """Whether a node here declares open-ended keys (a map), or describes no keys at all."""
    expanded = _expand(nodes)
    for node in expanded:
        if node.get("additionalProperties") not in (None, False):
            return True
        if node.get("patternProperties"):
            return True
    return not any(_properties(node) for node in expanded)


def _children(node: Mapping[str, Any], key: str | int) -> list[Mapping[str, Any]]:
    """The schema nodes that describe `key` below `node`."""
    found: list[Mapping[str, Any]] = []
    for each in _expand([node]):
        if isinstance(key, int):
            items = each.get("items")
            if isinstance(items, Mapping):
                found.append(items)
            elif isinstance(items, list) and key < len(items):
                found.append(items[key])
            continue
        child = _properties(each).get(key)
        if isinstance(child, Mapping):
            found.append(child)
            continue
        for pattern, schema in (each.get("patternProperties") or {}).items():
            if re.search(pattern, key) and isinstance(schema, Mapping):
                found.append(schema)
        extra = each.get("additionalProperties")
        if isinstance(extra, Mapping):
            found.append(extra)
    return found


def _declared_visibility(
    nodes: Sequence[Mapping[str, Any]], value: Any
) -> tuple[Visibility | None, Visibility | None]:
    """(`visibility`, `deepVisibility`) declared on these nodes and on those of their
    composite branches that `value` matches (all of them for `_ANY`); secret wins."""
    declared: set[str] = set()
    deep: set[str] = set()
    for node in _matching(nodes, value):
        if node.get("visibility") in _VISIBILITIES:
            declared.add(node["visibility"])
        if node.get("deepVisibility") in _VISIBILITIES:
            deep.add(node["deepVisibility"])
    return _strongest(declared), _strongest(deep)


def _matching(nodes: Sequence[Mapping[str, Any]], value: Any) -> list[Mapping[str, Any]]:
    out: list[Mapping[str, Any]] = []
    pending = [node for node in nodes if isinstance(node, Mapping)]
    while pending:
        node = pending.pop()
        out.append(node)
        for keyword in _COMPOSITES:
            branches = node.get(keyword)
            if not isinstance(branches, list):
                continue
            for branch in branches:
                if not isinstance(branch, Mapping):
                    continue
                if (
                    value is _ANY
                    or keyword == "allOf"
                    or _CoercingValidator(branch).is_valid(value)
                ):
                    pending.append(branch)
    return out


def _strongest(found: set[str]) -> Visibility | None:
    strongest: tuple[Visibility, ...] = ("secret", "frontend", "backend")
    for visibility in strongest:
        if visibility in found:
            return visibility
    return None


def _dotted(path: Sequence[str | int]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _context(config: Config, path: Sequence[str | int]) -> str | None:
    """The file the value at `path` came from (for an array item, the array's file)."""
    keys: list[str] = []
    for part in path:
        if isinstance(part, int):
            break
        keys.append(part)
    while keys:
        try:
            context = config.context_of(".".join(keys))
        except ConfigError:
            context = None
        if context is not None:
            return context
        keys.pop()
    return None


def _issue_from_error(config: Config, error: ValidationError, package: str) -> ConfigIssue:
    # of the branches of an anyOf/oneOf, the one the value came closest to says best what
    # is wrong (`backend.listen.port` is not a number, rather than `backend.listen` matches
    # no branch)
    while error.validator in ("anyOf", "oneOf") and error.context:
        deeper = max(error.context, key=lambda each: len(each.absolute_path))
        if len(deeper.absolute_path) <= len(error.absolute_path):
            break
        error = deeper
    path = list(error.absolute_path)
    key = _dotted(path) or "<root>"
    context = _context(config, path)
    where = f" in '{context}'" if context else ""
    if error.validator == "type":
        expected = error.validator_value
        wanted = " or ".join(expected) if isinstance(expected, list) else str(expected)
        message = (
            f"Config value for key '{key}'{where} has the wrong type: got "
            f"{_json_type(error.instance)}, wanted {wanted}"
        )
    else:
        message = f"Config value for key '{key}'{where} is invalid: {error.message}"
    return ConfigIssue(key=key, context=context, message=f"{message} (schema of '{package}')")


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _unknown_key_issue(config: Config, path: list[str | int], known: list[str]) -> ConfigIssue:
    key = _dotted(path)
    context = _context(config, path)
    where = f" in '{context}'" if context else ""
    name = path[-1]
    close = difflib.get_close_matches(str(name), known, n=1, cutoff=0.6)
    message = f"Unknown config key '{key}'{where}"
    if close:
        message += f", did you mean '{_dotted([*path[:-1], close[0]])}'?"
    return ConfigIssue(key=key, context=context, message=message)


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
