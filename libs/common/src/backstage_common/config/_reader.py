"""`Config`: a typed reader over layered config sources, after Backstage's ConfigReader."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeVar

from backstage_common.config._errors import ConfigError
from backstage_common.config._values import (
    JsonObject,
    JsonValue,
    copy_json,
    is_valid_key_part,
    merge_objects,
    parse_boolean,
    parse_number,
    type_name,
)

__all__ = ["Config", "ConfigSource"]

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class ConfigSource:
    """The data read from one place, and where it came from.

    `context` is what error messages name: the file path, or `env` for `APP_CONFIG_*`.
    """

    data: Mapping[str, Any]
    context: str


@dataclass(frozen=True, slots=True)
class _Layer:
    """One source's object at the current level of the config tree."""

    data: JsonObject
    context: str


class _Found(NamedTuple):
    """A value located in the layers: a leaf (`layers` empty) or an object (`layers` set)."""

    value: JsonValue
    context: str
    layers: tuple[_Layer, ...]


class _Mismatch(NamedTuple):
    """What a validator reports: the expected type, and optionally the offending element."""

    expected: str
    value: JsonValue = None
    suffix: str | None = None


_Validator = Callable[[JsonValue], _Mismatch | None]


class Config:
    """Read config values by dotted key (`backend.listen.port`) with typed getters.

    Sources are layered: later sources win, objects deep-merge, and arrays and scalars
    replace. Each value remembers the source it came from, so errors name the full key
    from the root and the file (or `env`) the offending value was read from.
    """

    __slots__ = ("_layers", "_prefix")

    def __init__(self, layers: tuple[_Layer, ...], prefix: str = "") -> None:
        """Internal: build a `Config` with `from_data` or `from_sources`."""
        # Layers are ordered from the highest priority (last source) to the lowest.
        self._layers = layers
        self._prefix = prefix

    @classmethod
    def from_data(cls, data: Mapping[str, Any], context: str = "mock-config") -> Config:
        """A config reading one object, as Backstage's `new ConfigReader(data, context)`."""
        return cls.from_sources([ConfigSource(data=data, context=context)])

    @classmethod
    def from_sources(cls, sources: Sequence[ConfigSource]) -> Config:
        """A config over several sources, lowest priority first (later sources win)."""
        layers: list[_Layer] = []
        for source in sources:
            if not isinstance(source.data, Mapping):
                raise ConfigError(
                    f"Invalid config in '{source.context}', got {type_name(source.data)} "
                    "at the root, wanted object"
                )
            data = copy_json(source.data, "", source.context)
            assert isinstance(data, dict)
            layers.append(_Layer(data=data, context=source.context))
        return cls(tuple(reversed(layers)))

    def __repr__(self) -> str:
        contexts = ", ".join(repr(context) for context in self._contexts())
        where = f" at {self._prefix!r}" if self._prefix else ""
        return f"Config({contexts}){where}"

    # -- introspection -----------------------------------------------------------------

    def has(self, key: str) -> bool:
        """Whether a value (including null) is set at `key`."""
        return self._lookup(key) is not None

    def keys(self) -> list[str]:
        """The keys of this level, merged across sources, in the order first seen.

        Sources are read in load order, so keys of earlier files come first.
        """
        seen: dict[str, None] = {}
        for layer in reversed(self._layers):
            seen.update(dict.fromkeys(layer.data))
        return list(seen)

    def full_key(self, key: str) -> str:
        """The path of `key` from the config root, as used in error messages."""
        return f"{self._prefix}.{key}" if self._prefix and key else self._prefix or key

    def context_of(self, key: str) -> str | None:
        """The source (file path or `env`) that supplies the value at `key`, if any.

        For an object merged from several sources this is the highest-priority one.
        """
        found = self._lookup(key)
        return None if found is None else found.context

    # -- untyped reads -----------------------------------------------------------------

    def get(self, key: str | None = None) -> JsonValue:
        """The value at `key` (the whole level if omitted) as plain JSON-like data."""
        if self._lookup(key) is None:
            raise self._missing(key or "")
        return self._lookup_value(key)

    def get_optional(self, key: str | None = None) -> JsonValue:
        """Like `get`, but None when the value is missing (or is an explicit null)."""
        return self._lookup_value(key)

    # -- typed reads -------------------------------------------------------------------

    def get_string(self, key: str) -> str:
        """A non-empty string."""
        return self._required(key, self.get_optional_string(key))

    def get_optional_string(self, key: str) -> str | None:
        """A non-empty string, or None when missing."""
        value = self._read(key, _expect_string)
        assert value is None or isinstance(value, str)
        return value

    def get_number(self, key: str) -> int | float:
        """A number; numeric strings such as `'7007'` are converted."""
        return self._required(key, self.get_optional_number(key))

    def get_optional_number(self, key: str) -> int | float | None:
        """A number, or None when missing."""
        found = self._read_found(key, _expect_number)
        if found is None:
            return None
        value = found.value
        if isinstance(value, str):
            number = parse_number(value)
            if number is None:
                raise self._conversion_error(key, found.context, "number")
            return number
        assert isinstance(value, int | float)
        return value

    def get_boolean(self, key: str) -> bool:
        """A boolean; `'true'`, `'yes'`, `'on'`, `'1'` (and the negations) are converted."""
        return self._required(key, self.get_optional_boolean(key))

    def get_optional_boolean(self, key: str) -> bool | None:
        """A boolean, or None when missing."""
        found = self._read_found(key, _expect_boolean)
        if found is None:
            return None
        value = found.value
        if isinstance(value, bool):
            return value
        assert isinstance(value, str | int | float)
        converted = parse_boolean(value)
        if converted is None:
            raise self._conversion_error(key, found.context, "boolean")
        return converted

    def get_string_array(self, key: str) -> list[str]:
        """A list of non-empty strings."""
        return self._required(key, self.get_optional_string_array(key))

    def get_optional_string_array(self, key: str) -> list[str] | None:
        """A list of non-empty strings, or None when missing."""
        value = self._read(key, _expect_string_array)
        if value is None:
            return None
        assert isinstance(value, list)
        return [item for item in value if isinstance(item, str)]

    def get_config(self, key: str) -> Config:
        """The object at `key` as a sub-config; its errors still name the full key path."""
        return self._required(key, self.get_optional_config(key))

    def get_optional_config(self, key: str) -> Config | None:
        """The object at `key` as a sub-config, or None when missing."""
        found = self._read_found(key, _expect_object)
        if found is None:
            return None
        return Config(found.layers, self.full_key(key))

    def get_config_array(self, key: str) -> list[Config]:
        """A list of objects, each as a sub-config (`key[0]`, `key[1]`, ...)."""
        return self._required(key, self.get_optional_config_array(key))

    def get_optional_config_array(self, key: str) -> list[Config] | None:
        """A list of objects as sub-configs, or None when missing."""
        found = self._read_found(key, _expect_object_array)
        if found is None:
            return None
        assert isinstance(found.value, list)
        return [
            Config((_Layer(item, found.context),), self.full_key(f"{key}[{index}]"))
            for index, item in enumerate(found.value)
            if isinstance(item, dict)
        ]

    # -- internals ---------------------------------------------------------------------

    def _contexts(self) -> list[str]:
        return list(dict.fromkeys(layer.context for layer in reversed(self._layers)))

    def _lookup(self, key: str | None) -> _Found | None:
        """Find the effective value at `key`, honouring how sources merge.

        Walking down from the highest-priority source, objects at the same path merge; the
        first non-object value is the answer, and hides anything in lower sources.
        """
        parts = _split_key(key)
        current = self._layers
        for index, part in enumerate(parts):
            objects: list[_Layer] = []
            for layer in current:
                if part not in layer.data:
                    continue
                value = layer.data[part]
                if isinstance(value, dict):
                    objects.append(_Layer(value, layer.context))
                    continue
                if objects:
                    break  # a higher source replaced this value with an object
                if index == len(parts) - 1:
                    return _Found(value, layer.context, ())
                bad_key = ".".join(parts[: index + 1])
                raise self._type_error(bad_key, layer.context, value, "object")
            if not objects:
                return None
            current = tuple(objects)
        if not current:
            return None
        return _Found(None, current[0].context, current)

    def _lookup_value(self, key: str | None) -> JsonValue:
        found = self._lookup(key)
        if found is None:
            return None
        if not found.layers:
            return copy_json(found.value, self.full_key(key or ""), found.context)
        merged: JsonObject = {}
        for layer in reversed(found.layers):
            merged = merge_objects(merged, layer.data)
        return copy_json(merged, self.full_key(key or ""), found.context)

    def _read_found(self, key: str, validate: _Validator) -> _Found | None:
        found = self._lookup(key)
        if found is None:
            return None
        value: JsonValue = found.layers[0].data if found.layers else found.value
        mismatch = validate(value)
        if mismatch is not None:
            bad_key = key if mismatch.suffix is None else f"{key}{mismatch.suffix}"
            bad_value = value if mismatch.suffix is None else mismatch.value
            raise self._type_error(bad_key, found.context, bad_value, mismatch.expected)
        return found

    def _read(self, key: str, validate: _Validator) -> JsonValue:
        found = self._read_found(key, validate)
        return None if found is None else copy_json(found.value, key, found.context)

    def _required(self, key: str, value: _T | None) -> _T:
        if value is None:
            raise self._missing(key)
        return value

    def _missing(self, key: str) -> ConfigError:
        contexts = self._contexts()
        if not contexts:
            where = ""
        elif len(contexts) == 1:
            where = f" in '{contexts[0]}'"
        else:
            where = " in any of " + ", ".join(f"'{context}'" for context in contexts)
        return ConfigError(f"Missing required config value at '{self.full_key(key)}'{where}")

    def _type_error(self, key: str, context: str, value: object, expected: str) -> ConfigError:
        return ConfigError(
            f"Invalid type in config for key '{self.full_key(key)}' in '{context}', "
            f"got {type_name(value)}, wanted {expected}"
        )

    def _conversion_error(self, key: str, context: str, expected: str) -> ConfigError:
        return ConfigError(
            f"Unable to convert config value for key '{self.full_key(key)}' in '{context}' "
            f"to a {expected}"
        )


def _split_key(key: str | None) -> list[str]:
    if key is None:
        return []
    parts = key.split(".")
    if not all(is_valid_key_part(part) for part in parts):
        raise ConfigError(f"Invalid config key '{key}'")
    return parts


def _expect_string(value: JsonValue) -> _Mismatch | None:
    return None if isinstance(value, str) and value else _Mismatch("string")


def _expect_number(value: JsonValue) -> _Mismatch | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return _Mismatch("number")
    return None


def _expect_boolean(value: JsonValue) -> _Mismatch | None:
    return None if isinstance(value, bool | int | float | str) else _Mismatch("boolean")


def _expect_object(value: JsonValue) -> _Mismatch | None:
    return None if isinstance(value, dict) else _Mismatch("object")


def _expect_string_array(value: JsonValue) -> _Mismatch | None:
    if not isinstance(value, list):
        return _Mismatch("string-array")
    for index, item in enumerate(value):
        if not isinstance(item, str) or not item:
            return _Mismatch("string", item, f"[{index}]")
    return None


def _expect_object_array(value: JsonValue) -> _Mismatch | None:
    if not isinstance(value, list):
        return _Mismatch("object-array")
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            return _Mismatch("object", item, f"[{index}]")
    return None
