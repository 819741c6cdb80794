"""Small helpers on entities: refs, location annotations, Location entities, hashes."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping
from typing import Any
from urllib.parse import urljoin

import msgspec
from backstage_common.catalog_model import (
    ANNOTATION_LOCATION,
    ANNOTATION_ORIGIN_LOCATION,
    parse_location_ref,
    stringify_entity_ref,
)
from backstage_common.errors import BackstageError, InputError
from backstage_plugin_catalog_node import LocationSpec

__all__ = [
    "copy_entity",
    "entity_location",
    "entity_ref",
    "join_url",
    "location_entity",
    "location_entity_ref",
    "serialize_error",
    "stable_hash",
]

_encode_sorted = msgspec.json.Encoder(order="sorted")
_encode = msgspec.json.Encoder()
_decode = msgspec.json.Decoder()


def stable_hash(value: Any) -> str:
    """sha1 hex of the key-sorted JSON of `value`."""
    return hashlib.sha1(_encode_sorted.encode(value), usedforsecurity=False).hexdigest()


@functools.lru_cache(maxsize=16_384)
def join_url(base: str, reference: str) -> str:
    """`urljoin(base, reference)`, kept for the URLs met again on every processing pass.

    Args:
        base: an absolute URL.
        reference: a URL, relative to `base` or not.
    """
    return urljoin(base, reference)


def copy_entity(entity: Mapping[str, Any]) -> dict[str, Any]:
    copied: dict[str, Any] = _decode.decode(_encode.encode(entity))
    return copied


def entity_ref(entity: Mapping[str, Any]) -> str:
    """The lowercased `kind:namespace/name` of an entity."""
    return stringify_entity_ref(entity)


def location_entity_name(location: LocationSpec) -> str:
    digest = hashlib.sha1(str(location).encode(), usedforsecurity=False).hexdigest()
    return f"generated-{digest}"


def location_entity_ref(location: LocationSpec) -> str:
    return f"location:default/{location_entity_name(location)}"


def location_entity(
    location: LocationSpec, *, own: str | None = None, origin: str | None = None
) -> dict[str, Any]:
    """The `Location` entity that stands for `location`; its own and origin location
    annotations default to the location itself (a root location)."""
    spec: dict[str, Any] = {"type": location.type, "target": location.target}
    if location.presence != "required":
        spec["presence"] = location.presence
    own = own or str(location)
    return {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Location",
        "metadata": {
            "name": location_entity_name(location),
            "namespace": "default",
            "annotations": {ANNOTATION_LOCATION: own, ANNOTATION_ORIGIN_LOCATION: origin or own},
        },
        "spec": spec,
    }


def entity_location(entity: Mapping[str, Any], annotation: str) -> LocationSpec:
    """The location an entity's `annotation` names; `InputError` when it is missing."""
    metadata = entity.get("metadata")
    annotations = metadata.get("annotations") if isinstance(metadata, Mapping) else None
    value = annotations.get(annotation) if isinstance(annotations, Mapping) else None
    if not isinstance(value, str) or not value:
        raise InputError(f"Entity {entity_ref(entity)} does not have the annotation {annotation}")
    type_, target = parse_location_ref(value)
    return LocationSpec(type_, target)


def serialize_error(error: BaseException) -> dict[str, Any]:
    name = error.name if isinstance(error, BackstageError) else type(error).__name__
    return {"name": name, "message": str(error)}
