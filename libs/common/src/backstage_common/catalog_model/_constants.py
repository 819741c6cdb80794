"""Names every part of the catalog agrees on: the default namespace, built-in kinds, annotations."""

from __future__ import annotations

from typing import Any, Final, TypeAlias

__all__ = [
    "ANNOTATION_EDIT_URL",
    "ANNOTATION_LOCATION",
    "ANNOTATION_ORIGIN_LOCATION",
    "ANNOTATION_ORPHAN",
    "ANNOTATION_SOURCE_LOCATION",
    "ANNOTATION_VIEW_URL",
    "DEFAULT_NAMESPACE",
    "KNOWN_KINDS",
    "Entity",
]

Entity: TypeAlias = dict[str, Any]
"""An entity as plain JSON data: `apiVersion`, `kind`, `metadata`, `spec` (and, when read back
from the catalog, `relations` and `status`)."""

DEFAULT_NAMESPACE: Final = "default"

KNOWN_KINDS: Final[tuple[str, ...]] = (
    "Component",
    "API",
    "Resource",
    "System",
    "Domain",
    "Group",
    "User",
    "Location",
    "Template",
)
"""The kinds whose spec the model validates (exact, case-sensitive names)."""

ANNOTATION_LOCATION: Final = "backstage.io/managed-by-location"
"""Location ref (`url:https://...`) the entity was read from."""

ANNOTATION_ORIGIN_LOCATION: Final = "backstage.io/managed-by-origin-location"
"""Location ref of the registered root location that led to the entity."""

ANNOTATION_SOURCE_LOCATION: Final = "backstage.io/source-location"
"""Location ref of the entity's source, usually the folder of its descriptor file."""

ANNOTATION_VIEW_URL: Final = "backstage.io/view-url"
"""URL where a person can view the entity's source."""

ANNOTATION_EDIT_URL: Final = "backstage.io/edit-url"
"""URL where a person can edit the entity's source."""

ANNOTATION_ORPHAN: Final = "backstage.io/orphan"
"""Set to `"true"` by the catalog when nothing emits the entity any more."""
