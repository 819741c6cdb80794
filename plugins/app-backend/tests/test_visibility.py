"""Visibility filtering by the bundle's schema, as Backstage's config loader does it."""

from __future__ import annotations

from typing import Any

from backstage_plugin_app_backend import frontend_visible

SCHEMA: dict[str, Any] = {
    "type": "object",
    "definitions": {
        "Link": {"type": "object", "properties": {"url": {"$ref": "#/definitions/U"}}},
        "U": {"type": "string", "visibility": "frontend"},
    },
    "properties": {
        "app": {
            "type": "object",
            "properties": {
                "routes": {
                    "type": "object",
                    "deepVisibility": "frontend",
                    "properties": {"token": {"type": "string", "visibility": "secret"}},
                },
                "links": {"type": "array", "items": {"$ref": "#/definitions/Link"}},
                "flag": {
                    "anyOf": [{"type": "boolean", "visibility": "frontend"}, {"type": "string"}]
                },
                "empty": {"type": "array", "visibility": "frontend", "items": {"type": "string"}},
            },
        },
        "plain": {"type": "string"},
    },
}


def test_deep_visibility_arrays_refs_and_secrets() -> None:
    config = {
        "app": {
            "routes": {"bindings": {"a": "b"}, "token": "hidden", "list": [1, 2]},
            "links": [{"url": "https://x", "other": "no"}, {"other": "no"}],
            "flag": True,
            "empty": [],
        },
        "plain": "backend only",
    }
    assert frontend_visible(config, [SCHEMA]) == {
        "app": {
            "routes": {"bindings": {"a": "b"}, "list": [1, 2]},
            "links": [{"url": "https://x"}],
            "flag": True,
            "empty": [],
        }
    }


def test_the_more_restricted_of_two_schemas_wins() -> None:
    other = {"type": "object", "properties": {"plain": {"type": "string", "visibility": "secret"}}}
    visible = {
        "type": "object",
        "properties": {"plain": {"type": "string", "visibility": "frontend"}},
    }
    assert frontend_visible({"plain": "x"}, [visible]) == {"plain": "x"}
    assert frontend_visible({"plain": "x"}, [visible, other]) == {}


def test_a_value_of_the_wrong_type_gets_no_visibility() -> None:
    assert frontend_visible({"app": {"flag": 3}}, [SCHEMA]) == {}
