"""From a catalog entity to Backstage's `CatalogEntityDocument`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from backstage_plugin_search_node import IndexableDocument

__all__ = ["DEFAULT_LOCATION_TEMPLATE", "ENTITY_FIELDS", "entity_document"]

DEFAULT_LOCATION_TEMPLATE = "/catalog/:namespace/:kind/:name"
ENTITY_FIELDS = (
    "kind",
    "metadata.name",
    "metadata.namespace",
    "metadata.title",
    "metadata.description",
    "spec.type",
    "spec.lifecycle",
    "spec.owner",
    "spec.profile.displayName",
    "spec.profile.email",
)
"""What the documents are made of: the collator asks the catalog for these alone."""


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _js_string(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _text(kind: str, metadata: Mapping[str, Any], spec: Mapping[str, Any]) -> str:
    profile = _mapping(spec.get("profile"))
    parts = [metadata.get("description")]
    if kind.upper() in ("USER", "GROUP"):
        parts.append(profile.get("displayName"))
    if kind.upper() == "USER":
        parts.append(profile.get("email"))
    return " : ".join(_js_string(part) for part in parts if part)


def _encode(value: str) -> str:
    """As JavaScript's `encodeURIComponent`."""
    return quote(value, safe="-_.!~*'()")


def _location(template: str, namespace: str, kind: str, name: str) -> str:
    location = template
    for key, value in (("namespace", namespace), ("kind", kind), ("name", name)):
        location = location.replace(f":{key}", _encode(value), 1)
    return location.lower()


def entity_document(
    entity: Mapping[str, Any], location_template: str = DEFAULT_LOCATION_TEMPLATE
) -> IndexableDocument:
    metadata = _mapping(entity.get("metadata"))
    spec = _mapping(entity.get("spec"))
    kind = _js_string(entity.get("kind", ""))
    name = _js_string(metadata.get("name", ""))
    namespace = _js_string(metadata.get("namespace") or "default")
    title = metadata.get("title")
    spec_type = _js_string(spec.get("type")) if spec.get("type") else "other"
    return {
        "title": _js_string(title) if title is not None else name,
        "text": _text(kind, metadata, spec),
        "componentType": spec_type,
        "type": spec_type,
        "namespace": namespace,
        "kind": kind,
        "lifecycle": spec.get("lifecycle") or "",
        "owner": spec.get("owner") or "",
        "authorization": {"resourceRef": f"{kind}:{namespace}/{name}".lower()},
        "location": _location(location_template, namespace, kind, name),
    }
