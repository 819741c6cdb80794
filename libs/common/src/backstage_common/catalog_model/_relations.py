"""Relation types between entities and the reverse of each."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

__all__ = [
    "RELATION_API_CONSUMED_BY",
    "RELATION_API_PROVIDED_BY",
    "RELATION_CHILD_OF",
    "RELATION_CONSUMES_API",
    "RELATION_DEPENDENCY_OF",
    "RELATION_DEPENDS_ON",
    "RELATION_HAS_MEMBER",
    "RELATION_HAS_PART",
    "RELATION_MEMBER_OF",
    "RELATION_OWNED_BY",
    "RELATION_OWNER_OF",
    "RELATION_PAIRS",
    "RELATION_PARENT_OF",
    "RELATION_PART_OF",
    "RELATION_PROVIDES_API",
]

RELATION_OWNED_BY: Final = "ownedBy"
"""The source is owned by the target (a Group or a User)."""
RELATION_OWNER_OF: Final = "ownerOf"
RELATION_CONSUMES_API: Final = "consumesApi"
"""A Component uses the target API."""
RELATION_API_CONSUMED_BY: Final = "apiConsumedBy"
RELATION_PROVIDES_API: Final = "providesApi"
"""A Component exposes the target API."""
RELATION_API_PROVIDED_BY: Final = "apiProvidedBy"
RELATION_DEPENDS_ON: Final = "dependsOn"
"""The source needs the target (a Component or Resource) to work."""
RELATION_DEPENDENCY_OF: Final = "dependencyOf"
RELATION_PARENT_OF: Final = "parentOf"
"""A Group is the parent of the target Group."""
RELATION_CHILD_OF: Final = "childOf"
RELATION_MEMBER_OF: Final = "memberOf"
"""A User belongs to the target Group."""
RELATION_HAS_MEMBER: Final = "hasMember"
RELATION_PART_OF: Final = "partOf"
"""The source belongs to the target whole (System, Domain, or a parent Component)."""
RELATION_HAS_PART: Final = "hasPart"

_FORWARD_TO_REVERSE: Final = (
    (RELATION_OWNED_BY, RELATION_OWNER_OF),
    (RELATION_CONSUMES_API, RELATION_API_CONSUMED_BY),
    (RELATION_PROVIDES_API, RELATION_API_PROVIDED_BY),
    (RELATION_DEPENDS_ON, RELATION_DEPENDENCY_OF),
    (RELATION_PARENT_OF, RELATION_CHILD_OF),
    (RELATION_MEMBER_OF, RELATION_HAS_MEMBER),
    (RELATION_PART_OF, RELATION_HAS_PART),
)

RELATION_PAIRS: Final[Mapping[str, str]] = MappingProxyType(
    {
        **{forward: reverse for forward, reverse in _FORWARD_TO_REVERSE},
        **{reverse: forward for forward, reverse in _FORWARD_TO_REVERSE},
    }
)
"""Each well-known relation type mapped to its reverse, in both directions."""
