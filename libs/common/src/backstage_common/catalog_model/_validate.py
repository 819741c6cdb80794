"""Entity validation that reports every violation at once, each with its JSON path."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import jsonschema_rs
from jsonschema import Draft7Validator, ValidationError, validators
from jsonschema.protocols import Validator

from backstage_common.errors import InputError

from ._formats import (
    is_non_blank_string,
    is_valid_annotation_key,
    is_valid_api_version,
    is_valid_entity_name,
    is_valid_kind,
    is_valid_label_key,
    is_valid_label_value,
    is_valid_namespace,
    is_valid_tag,
    is_valid_url,
)
from ._ref import stringify_entity_ref
from ._schemas import ENVELOPE_SCHEMA, KIND_SCHEMAS, KindSchema

__all__ = [
    "EntityValidationError",
    "Violation",
    "builtin_kind_schema",
    "entity_violations",
    "validate_entity",
]

INPUT_ROOT_FIELDS: Final = ("apiVersion", "kind", "metadata", "spec")
OUTPUT_ROOT_FIELDS: Final = (*INPUT_ROOT_FIELDS, "relations", "status")

_NAME_RULE: Final = (
    "sequences of [a-zA-Z0-9] separated by any of [-_.], at most 63 characters in total"
)
_NAMESPACE_RULE: Final = "sequences of [a-z0-9] separated by [-], at most 63 characters in total"
_KEY_RULE: Final = f"an optional DNS subdomain prefix and a slash, then {_NAME_RULE}"


@dataclass(frozen=True)
class Violation:
    """One broken rule: where (a JSON path such as `metadata.tags[2]`) and what is wrong."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class EntityValidationError(InputError):
    """An entity broke one or more rules; `violations` lists all of them."""

    def __init__(self, violations: Sequence[Violation], *, entity_ref: str | None = None) -> None:
        self.violations: tuple[Violation, ...] = tuple(violations)
        subject = f"Entity {entity_ref}" if entity_ref else "Entity"
        listed = "; ".join(str(violation) for violation in self.violations)
        super().__init__(f"{subject} is invalid: {listed}")


def validate_entity(entity: Mapping[str, Any], *, allow_output_fields: bool = False) -> None:
    """Raises `EntityValidationError` listing every violation, or returns if the entity is valid.

    Checks the envelope (root fields, `apiVersion`, `kind`, `metadata` and its name, namespace,
    labels, annotations, tags, title, links), then, when `apiVersion` and `kind` name a
    built-in kind, that kind's `spec`. Other kinds get only the envelope checks. Root fields
    other than `apiVersion`, `kind`, `metadata` and `spec` are refused unless
    `allow_output_fields` admits the catalog's own `relations` and `status`.
    """
    violations = entity_violations(entity, allow_output_fields=allow_output_fields)
    if violations:
        raise EntityValidationError(violations, entity_ref=_ref_or_none(entity))


def entity_violations(
    entity: Mapping[str, Any], *, allow_output_fields: bool = False
) -> list[Violation]:
    """Every violation `validate_entity` would report, in a stable order; empty when valid."""
    if not isinstance(entity, Mapping):
        return [Violation(_ROOT, "must be an object")]
    allowed = OUTPUT_ROOT_FIELDS if allow_output_fields else INPUT_ROOT_FIELDS
    found = [
        Violation(_json_path([str(key)]), f"unknown field; an entity has only {', '.join(allowed)}")
        for key in entity
        if key not in allowed
    ]
    found.extend(_schema_violations(_envelope_validator(), entity, ()))
    found.extend(_format_violations(entity))
    kind_schema = builtin_kind_schema(entity)
    if kind_schema is not None:
        spec = entity.get("spec")
        if "spec" not in entity:
            found.append(Violation("spec", "is required"))
        elif isinstance(spec, Mapping):
            found.extend(_schema_violations(_spec_validator(kind_schema.kind), spec, ("spec",)))
    return list(dict.fromkeys(found))


def builtin_kind_schema(entity: Mapping[str, Any]) -> KindSchema | None:
    """The built-in kind the entity is written as (exact `kind` and a supported `apiVersion`)."""
    kind = entity.get("kind")
    kind_schema = KIND_SCHEMAS.get(kind) if isinstance(kind, str) else None
    if kind_schema is None or entity.get("apiVersion") not in kind_schema.api_versions:
        return None
    return kind_schema


def _ref_or_none(entity: Mapping[str, Any]) -> str | None:
    try:
        return stringify_entity_ref(entity) if isinstance(entity, Mapping) else None
    except (InputError, AttributeError):
        return None


# JSON Schema validation -----------------------------------------------------------------

_ROOT: Final = "<root>"
_IDENTIFIER: Final = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")

# Entities arrive as any mapping and sequence, not only dict and list.
_MappingAwareValidator: type[Validator] = validators.extend(  # type: ignore[no-untyped-call]
    Draft7Validator,
    type_checker=Draft7Validator.TYPE_CHECKER.redefine_many(
        {
            "object": lambda _checker, value: isinstance(value, Mapping),
            "array": lambda _checker, value: isinstance(value, list | tuple),
        }
    ),
)


@dataclass(frozen=True)
class _SchemaCheck:
    """A schema compiled twice: a fast yes/no check (jsonschema-rs, compiled to native code,
    about a hundred times faster) and, only when that fails, the validator that lists every
    violation with its path (jsonschema)."""

    quick: jsonschema_rs.Validator
    detailed: Validator

    @staticmethod
    def of(schema: Mapping[str, Any]) -> _SchemaCheck:
        quick = jsonschema_rs.Draft7Validator(dict(schema), validate_formats=False)
        return _SchemaCheck(quick, _MappingAwareValidator(schema))

    def is_valid(self, instance: Any) -> bool:
        """True when surely valid; False means: ask the detailed validator."""
        try:
            return self.quick.is_valid(instance)
        except (ValueError, TypeError, OverflowError):  # not plain JSON data (a date, a set)
            return False


@functools.cache
def _envelope_validator() -> _SchemaCheck:
    return _SchemaCheck.of(ENVELOPE_SCHEMA)


@functools.cache
def _spec_validator(kind: str) -> _SchemaCheck:
    return _SchemaCheck.of(KIND_SCHEMAS[kind].spec_schema)


def _json_path(parts: Iterable[str | int]) -> str:
    """`metadata.tags[2]`, `metadata.annotations["backstage.io/edit-url"]`; `<root>` if empty."""
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        elif _IDENTIFIER.fullmatch(part):
            path += f".{part}" if path else part
        else:
            path += f"[{json.dumps(part)}]"
    return path or _ROOT


def _schema_violations(
    check: _SchemaCheck, instance: Any, prefix: tuple[str, ...]
) -> Iterator[Violation]:
    if check.is_valid(instance):
        return
    for error in check.detailed.iter_errors(instance):
        parts = (*prefix, *error.absolute_path)
        if error.validator == "required":
            required: Any = error.validator_value
            instance_at: Any = error.instance
            missing = [name for name in required if name not in instance_at]
            for name in missing:
                yield Violation(_json_path((*parts, name)), "is required")
        else:
            yield Violation(_json_path(parts), _describe(error))


_ARTICLES: Final = {"array": "an array", "object": "an object", "integer": "an integer"}


def _describe(error: ValidationError) -> str:
    keyword = error.validator
    expected: Any = error.validator_value
    if keyword == "type":
        types = [expected] if isinstance(expected, str) else list(expected)
        return "must be " + " or ".join(_ARTICLES.get(t, f"a {t}") for t in types)
    if keyword == "minLength" and expected == 1:
        return "must not be empty"
    if keyword == "minLength":
        return f"must be at least {expected} characters long"
    if keyword == "enum":
        return "must be one of " + ", ".join(json.dumps(option) for option in expected)
    if keyword == "pattern":
        return f"must match the pattern {expected}"
    if keyword == "oneOf":
        return "does not have any of the accepted shapes"
    return str(error.message)


# Field formats ----------------------------------------------------------------------------


def _format_violations(entity: Mapping[str, Any]) -> Iterator[Violation]:
    """Format checks on fields that have the right type; the schema reports wrong types."""
    yield from _check(
        ("apiVersion",),
        entity.get("apiVersion"),
        is_valid_api_version,
        'a group and version such as "backstage.io/v1alpha1", or a version alone',
    )
    yield from _check(
        ("kind",),
        entity.get("kind"),
        is_valid_kind,
        "a letter followed by letters and digits, at most 63 characters in total",
    )
    metadata = entity.get("metadata")
    if isinstance(metadata, Mapping):
        yield from _metadata_violations(metadata)


def _metadata_violations(metadata: Mapping[str, Any]) -> Iterator[Violation]:
    at = ("metadata",)
    yield from _check((*at, "name"), metadata.get("name"), is_valid_entity_name, _NAME_RULE)
    yield from _check(
        (*at, "namespace"), metadata.get("namespace"), is_valid_namespace, _NAMESPACE_RULE
    )
    yield from _pair_violations(
        (*at, "labels"), metadata.get("labels"), is_valid_label_key, is_valid_label_value
    )
    yield from _pair_violations(
        (*at, "annotations"), metadata.get("annotations"), is_valid_annotation_key, None
    )
    tags = metadata.get("tags")
    if isinstance(tags, list | tuple):
        for index, tag in enumerate(tags):
            yield from _check(
                (*at, "tags", index),
                tag,
                is_valid_tag,
                "sequences of [a-z0-9:+#] separated by [-], at most 63 characters in total",
            )
    links = metadata.get("links")
    if isinstance(links, list | tuple):
        for index, link in enumerate(links):
            if isinstance(link, Mapping):
                yield from _link_violations((*at, "links", index), link)


def _pair_violations(
    at: tuple[str, ...],
    pairs: Any,
    is_valid_key: Callable[[Any], bool],
    is_valid_value: Callable[[Any], bool] | None,
) -> Iterator[Violation]:
    """Keys of labels or annotations; label values too (annotation values are any string)."""
    if not isinstance(pairs, Mapping):
        return
    for key, value in pairs.items():
        if not is_valid_key(key):
            path = _json_path((*at, str(key)))
            yield Violation(path, f'key must be {_KEY_RULE}, but found "{key}"')
        if is_valid_value and isinstance(value, str) and not is_valid_value(value):
            path = _json_path((*at, str(key)))
            yield Violation(path, f'value must be empty or {_NAME_RULE}, but found "{value}"')


def _link_violations(at: tuple[str | int, ...], link: Mapping[str, Any]) -> Iterator[Violation]:
    yield from _check((*at, "url"), link.get("url"), is_valid_url, "an absolute URL")
    for field in ("title", "icon"):
        value = link.get(field)
        if isinstance(value, str) and value and not is_non_blank_string(value):
            yield Violation(_json_path((*at, field)), "must not be blank")


def _check(
    at: tuple[str | int, ...], value: Any, is_valid: Callable[[Any], bool], rule: str
) -> Iterator[Violation]:
    """A violation when a non-empty string breaks its rule (empty or non-strings: the schema)."""
    if isinstance(value, str) and value and not is_valid(value):
        yield Violation(_json_path(at), f'must be {rule}, but found "{value}"')
