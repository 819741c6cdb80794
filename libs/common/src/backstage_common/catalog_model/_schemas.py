"""JSON Schemas (draft 7) of the entity envelope and of each built-in kind's `spec`.

The envelope schema checks structure and types; the name, label, tag and URL formats are
checked by hand in `_validate` so each failure gets its own readable message.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

__all__ = [
    "ENVELOPE_SCHEMA",
    "KIND_SCHEMAS",
    "KindSchema",
]

_NON_EMPTY: Final[dict[str, Any]] = {"type": "string", "minLength": 1}
_NON_EMPTY_LIST: Final[dict[str, Any]] = {"type": "array", "items": _NON_EMPTY}
_STRING_MAP: Final[dict[str, Any]] = {"type": "object", "additionalProperties": {"type": "string"}}
_STRING_OR_BOOL: Final[dict[str, Any]] = {"type": ["string", "boolean"]}

ENVELOPE_SCHEMA: Final[Mapping[str, Any]] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "required": ["apiVersion", "kind", "metadata"],
    "properties": {
        "apiVersion": _NON_EMPTY,
        "kind": _NON_EMPTY,
        "metadata": {"$ref": "#/definitions/metadata"},
        "spec": {"type": "object"},
        "relations": {"type": "array", "items": {"$ref": "#/definitions/relation"}},
        "status": {"$ref": "#/definitions/status"},
    },
    "definitions": {
        "metadata": {
            "type": "object",
            "required": ["name"],
            "properties": {
                "uid": _NON_EMPTY,
                "etag": _NON_EMPTY,
                "name": _NON_EMPTY,
                "namespace": _NON_EMPTY,
                "title": _NON_EMPTY,
                "description": {"type": "string"},
                "labels": _STRING_MAP,
                "annotations": _STRING_MAP,
                "tags": _NON_EMPTY_LIST,
                "links": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["url"],
                        "properties": {
                            "url": _NON_EMPTY,
                            "title": _NON_EMPTY,
                            "icon": _NON_EMPTY,
                            "type": _NON_EMPTY,
                        },
                    },
                },
            },
        },
        "relation": {
            "type": "object",
            "required": ["type", "targetRef"],
            "properties": {
                "type": {"type": "string", "pattern": "^[A-Za-z0-9_]+$"},
                "targetRef": _NON_EMPTY,
            },
        },
        "status": {
            "type": "object",
            "properties": {
                "items": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["type", "level", "message"],
                        "properties": {
                            "type": _NON_EMPTY,
                            "level": {"enum": ["info", "warning", "error"]},
                            "message": {"type": "string"},
                            "error": {
                                "type": "object",
                                "required": ["name", "message"],
                                "properties": {
                                    "name": _NON_EMPTY,
                                    "message": {"type": "string"},
                                    "code": {"type": "string"},
                                    "stack": {"type": "string"},
                                },
                            },
                        },
                    },
                },
            },
        },
    },
}


def _spec(required: list[str], properties: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "required": required,
        "properties": dict(properties),
    }


_PROFILE: Final[dict[str, Any]] = {
    "type": "object",
    "properties": {"displayName": _NON_EMPTY, "email": _NON_EMPTY, "picture": _NON_EMPTY},
}
_PERMISSION_TAGS: Final[dict[str, Any]] = {
    "type": "object",
    "properties": {"tags": {"type": "array", "items": {"type": "string"}}},
}
_FORM_DECORATORS: Final[dict[str, Any]] = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {"id": {"type": "string"}, "input": {"type": "object"}},
    },
}


@dataclass(frozen=True, slots=True)
class KindSchema:
    """A built-in kind: the apiVersions it is written in and the schema of its `spec`."""

    kind: str
    api_versions: tuple[str, ...]
    spec_schema: Mapping[str, Any]


_BACKSTAGE_V1: Final = ("backstage.io/v1alpha1", "backstage.io/v1beta1")

KIND_SCHEMAS: Final[Mapping[str, KindSchema]] = {
    schema.kind: schema
    for schema in (
        KindSchema(
            "Component",
            _BACKSTAGE_V1,
            _spec(
                ["type", "lifecycle", "owner"],
                {
                    "type": _NON_EMPTY,
                    "lifecycle": _NON_EMPTY,
                    "owner": _NON_EMPTY,
                    "system": _NON_EMPTY,
                    "subcomponentOf": _NON_EMPTY,
                    "providesApis": _NON_EMPTY_LIST,
                    "consumesApis": _NON_EMPTY_LIST,
                    "dependsOn": _NON_EMPTY_LIST,
                },
            ),
        ),
        KindSchema(
            "API",
            _BACKSTAGE_V1,
            _spec(
                ["type", "lifecycle", "owner", "definition"],
                {
                    "type": _NON_EMPTY,
                    "lifecycle": _NON_EMPTY,
                    "owner": _NON_EMPTY,
                    "system": _NON_EMPTY,
                    "definition": _NON_EMPTY,
                },
            ),
        ),
        KindSchema(
            "Resource",
            _BACKSTAGE_V1,
            _spec(
                ["type", "owner"],
                {
                    "type": _NON_EMPTY,
                    "owner": _NON_EMPTY,
                    "dependsOn": _NON_EMPTY_LIST,
                    "system": _NON_EMPTY,
                },
            ),
        ),
        KindSchema(
            "System",
            _BACKSTAGE_V1,
            _spec(["owner"], {"owner": _NON_EMPTY, "domain": _NON_EMPTY, "type": _NON_EMPTY}),
        ),
        KindSchema(
            "Domain",
            _BACKSTAGE_V1,
            _spec(["owner"], {"owner": _NON_EMPTY, "subdomainOf": _NON_EMPTY, "type": _NON_EMPTY}),
        ),
        KindSchema(
            "Group",
            _BACKSTAGE_V1,
            _spec(
                ["type", "children"],
                {
                    "type": _NON_EMPTY,
                    "profile": _PROFILE,
                    "parent": _NON_EMPTY,
                    "children": _NON_EMPTY_LIST,
                    "members": _NON_EMPTY_LIST,
                },
            ),
        ),
        KindSchema(
            "User",
            _BACKSTAGE_V1,
            _spec(["memberOf"], {"profile": _PROFILE, "memberOf": _NON_EMPTY_LIST}),
        ),
        KindSchema(
            "Location",
            _BACKSTAGE_V1,
            _spec(
                [],
                {
                    "type": _NON_EMPTY,
                    "target": _NON_EMPTY,
                    "targets": _NON_EMPTY_LIST,
                    "presence": {"enum": ["required", "optional"]},
                },
            ),
        ),
        KindSchema(
            "Template",
            ("scaffolder.backstage.io/v1beta3",),
            _spec(
                ["type", "steps"],
                {
                    "type": _NON_EMPTY,
                    "owner": _NON_EMPTY,
                    "lifecycle": _NON_EMPTY,
                    "parameters": {
                        "oneOf": [
                            {
                                "type": "object",
                                "properties": {"backstage:permissions": _PERMISSION_TAGS},
                            },
                            {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "properties": {
                                        "when": _STRING_OR_BOOL,
                                        "backstage:permissions": _PERMISSION_TAGS,
                                    },
                                },
                            },
                        ]
                    },
                    "secrets": {
                        "type": "object",
                        "properties": {"schema": {"type": "object"}},
                    },
                    "presentation": {
                        "type": "object",
                        "properties": {
                            "buttonLabels": {
                                "type": "object",
                                "properties": {
                                    "backButtonText": {"type": "string"},
                                    "createButtonText": {"type": "string"},
                                    "reviewButtonText": {"type": "string"},
                                },
                            }
                        },
                    },
                    "EXPERIMENTAL_recovery": {
                        "type": "object",
                        "properties": {"EXPERIMENTAL_strategy": {"type": "string"}},
                    },
                    "formDecorators": _FORM_DECORATORS,
                    "EXPERIMENTAL_formDecorators": _FORM_DECORATORS,
                    "steps": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["action"],
                            "properties": {
                                "id": {"type": "string"},
                                "name": {"type": "string"},
                                "action": {"type": "string"},
                                "input": {"type": "object"},
                                "if": _STRING_OR_BOOL,
                                "backstage:permissions": _PERMISSION_TAGS,
                            },
                        },
                    },
                    "output": {
                        "type": "object",
                        "properties": {
                            "links": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "properties": {
                                        "if": _STRING_OR_BOOL,
                                        "url": _NON_EMPTY,
                                        "entityRef": _NON_EMPTY,
                                        "title": _NON_EMPTY,
                                        "icon": _NON_EMPTY,
                                    },
                                },
                            },
                            "text": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "properties": {
                                        "if": _STRING_OR_BOOL,
                                        "title": _NON_EMPTY,
                                        "icon": _NON_EMPTY,
                                        "content": {"type": "string"},
                                    },
                                },
                            },
                        },
                        "additionalProperties": {"type": "string"},
                    },
                },
            ),
        ),
    )
}
"""The built-in kinds by exact kind name."""
