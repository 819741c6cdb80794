"""TypedDicts describing the well-known shape of an entity (documentation for readers and mypy).

Functions of this package accept any `Mapping[str, Any]`; these types only name the fields.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

__all__ = [
    "EntityLink",
    "EntityMetadata",
    "EntityRelation",
    "EntityStatus",
    "EntityStatusItem",
    "TypedEntity",
]


class EntityLink(TypedDict):
    url: str
    title: NotRequired[str]
    icon: NotRequired[str]
    type: NotRequired[str]


class EntityMetadata(TypedDict):
    name: str
    namespace: NotRequired[str]
    uid: NotRequired[str]
    etag: NotRequired[str]
    title: NotRequired[str]
    description: NotRequired[str]
    labels: NotRequired[dict[str, str]]
    annotations: NotRequired[dict[str, str]]
    tags: NotRequired[list[str]]
    links: NotRequired[list[EntityLink]]


class EntityRelation(TypedDict):
    type: str
    targetRef: str


class EntityStatusItem(TypedDict):
    type: str
    level: Literal["info", "warning", "error"]
    message: str
    error: NotRequired[dict[str, Any]]


class EntityStatus(TypedDict):
    items: NotRequired[list[EntityStatusItem]]


class TypedEntity(TypedDict):
    apiVersion: str
    kind: str
    metadata: EntityMetadata
    spec: NotRequired[dict[str, Any]]
    relations: NotRequired[list[EntityRelation]]
    status: NotRequired[EntityStatus]
