"""Config schemas: validation with the key and file, unknown keys, secrets, frontend subset."""

from __future__ import annotations

from typing import Any

import pytest
from backstage_common.config import (
    SECRET_MASK,
    Config,
    ConfigError,
    ConfigSchema,
    ConfigSource,
    PackageConfigSchema,
    frontend_config,
)

CORE: dict[str, Any] = {
    "type": "object",
    "properties": {
        "app": {
            "type": "object",
            "properties": {
                "title": {"type": "string", "visibility": "frontend"},
                "support": {"type": "object", "deepVisibility": "frontend"},
                "internal": {"type": "string"},
            },
        },
        "backend": {
            "type": "object",
            "properties": {
                "baseUrl": {"type": "string", "visibility": "frontend"},
                "listen": {
                    "anyOf": [
                        {"type": ["string", "number"]},
                        {"type": "object", "properties": {"port": {"type": "number"}}},
                    ]
                },
                "database": {
                    "type": "object",
                    "properties": {
                        "connection": {
                            "anyOf": [
                                {"type": "string", "visibility": "secret"},
                                {
                                    "type": "object",
                                    "properties": {
                                        "password": {"type": "string", "visibility": "secret"}
                                    },
                                    "additionalProperties": True,
                                },
                            ]
                        }
                    },
                },
                "auth": {
                    "type": "object",
                    "properties": {
                        "externalAccess": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "options": {
                                        "type": "object",
                                        "properties": {
                                            "token": {"type": "string", "visibility": "secret"},
                                            "subject": {"type": "string"},
                                        },
                                    }
                                },
                            },
                        }
                    },
                },
                "health": {
                    "type": "object",
                    "properties": {"headers": {"type": "object", "additionalProperties": True}},
                },
                "readonly": {"type": "boolean"},
            },
        },
    },
}
PLUGIN: dict[str, Any] = {
    "type": "object",
    "properties": {
        "catalog": {
            "type": "object",
            "properties": {
                "readonly": {"type": "boolean", "visibility": "frontend"},
                "rules": {"type": "array", "items": {"type": "object"}},
            },
        }
    },
}
SCHEMA = ConfigSchema((PackageConfigSchema("core", CORE), PackageConfigSchema("catalog", PLUGIN)))


def _config(*layers: tuple[str, dict[str, Any]]) -> Config:
    """A config over (file name, data) layers, later ones winning."""
    return Config.from_sources([ConfigSource(data=data, context=name) for name, data in layers])


def test_a_valid_config_has_no_issue() -> None:
    config = _config(
        ("app-config.yaml", {"app": {"title": "x"}, "backend": {"listen": {"port": 7007}}}),
        ("app-config.local.yaml", {"catalog": {"readonly": True, "rules": [{"allow": ["A"]}]}}),
    )
    assert SCHEMA.validate(config).errors == ()
    assert SCHEMA.validate(config).warnings == ()


def test_a_wrong_type_names_the_key_and_the_file_it_came_from() -> None:
    config = _config(
        ("base.yaml", {"backend": {"listen": {"port": 7007}}}),
        ("override.yaml", {"backend": {"listen": {"port": "seven"}}, "catalog": {"readonly": 3}}),
    )
    result = SCHEMA.validate(config)
    messages = [issue.message for issue in result.errors]
    assert [issue.key for issue in result.errors] == ["backend.listen.port", "catalog.readonly"]
    assert "'backend.listen.port' in 'override.yaml'" in messages[0]
    assert "got string, wanted number" in messages[0]
    assert "'catalog.readonly' in 'override.yaml'" in messages[1]
    with pytest.raises(ConfigError, match=r"backend\.listen\.port' in 'override\.yaml'"):
        result.raise_for_errors()


def test_values_as_substitution_writes_them_are_not_type_errors() -> None:
    # `${PORT}` and `APP_CONFIG_*` make strings; the config reader's getters accept them
    config = _config(
        ("env", {"backend": {"listen": {"port": "7007"}, "readonly": "true"}}),
        ("app-config.yaml", {"app": {"title": 42}}),
    )
    assert SCHEMA.validate(config).errors == ()


def test_an_object_where_a_scalar_belongs_and_the_reverse_are_errors() -> None:
    config = _config(("a.yaml", {"backend": {"database": "pg", "readonly": {"a": 1}}}))
    keys = [issue.key for issue in SCHEMA.validate(config).errors]
    assert keys == ["backend.database", "backend.readonly"]


def test_an_unknown_key_is_a_warning_with_the_closest_known_key() -> None:
    config = _config(
        ("app-config.yaml", {"backend": {"lisen": 7007, "baseUrl": "http://x"}}),
        ("local.yaml", {"catalog": {"readOnly": True}, "organisation": {"name": "x"}}),
    )
    result = SCHEMA.validate(config)
    assert result.errors == ()
    messages = sorted(issue.message for issue in result.warnings)
    assert messages == [
        "Unknown config key 'backend.lisen' in 'app-config.yaml', did you mean 'backend.listen'?",
        "Unknown config key 'catalog.readOnly' in 'local.yaml', did you mean 'catalog.readonly'?",
        "Unknown config key 'organisation' in 'local.yaml'",
    ]


def test_open_ended_maps_and_items_are_not_reported() -> None:
    config = _config(
        (
            "a.yaml",
            {
                "backend": {
                    "health": {"headers": {"x-anything": "1"}},
                    "database": {"connection": {"host": "h", "password": "p"}},
                    "auth": {"externalAccess": [{"options": {"token": "t", "subjekt": "s"}}]},
                },
                "catalog": {"rules": [{"allow": ["Component"], "whatever": 1}]},
            },
        )
    )
    result = SCHEMA.validate(config)
    assert [issue.key for issue in result.warnings] == [
        "backend.auth.externalAccess[0].options.subjekt"
    ]
    assert "did you mean 'backend.auth.externalAccess[0].options.subject'" in (
        result.warnings[0].message
    )


def test_secrets_are_masked_wherever_the_schema_marks_them() -> None:
    data = {
        "backend": {
            "baseUrl": "http://x",
            "database": {"connection": {"host": "h", "password": "hunter2"}},
            "auth": {"externalAccess": [{"options": {"token": "tok", "subject": "s"}}]},
        }
    }
    masked = SCHEMA.mask_secrets(data)
    assert masked["backend"]["database"]["connection"] == {"host": "h", "password": SECRET_MASK}
    assert masked["backend"]["auth"]["externalAccess"][0]["options"] == {
        "token": SECRET_MASK,
        "subject": "s",
    }
    # a connection string carries its password: the string form is secret as a whole
    as_string = {"backend": {"database": {"connection": "postgresql://u:pw@h/db"}}}
    assert SCHEMA.mask_secrets(as_string)["backend"]["database"]["connection"] == SECRET_MASK
    assert data["backend"]["database"]["connection"]["password"] == "hunter2"


def test_the_frontend_sees_only_frontend_values() -> None:
    config = _config(
        (
            "a.yaml",
            {
                "app": {"title": "t", "internal": "no", "support": {"url": "u", "items": [1]}},
                "backend": {"baseUrl": "http://x", "database": {"connection": "secret"}},
                "catalog": {"readonly": False, "rules": [{"allow": ["A"]}]},
                "unknown": {"title": "no"},
            },
        )
    )
    assert frontend_config(config, SCHEMA) == {
        "app": {"title": "t", "support": {"url": "u", "items": [1]}},
        "backend": {"baseUrl": "http://x"},
        "catalog": {"readonly": False},
    }


def test_an_invalid_schema_is_refused() -> None:
    with pytest.raises(ConfigError, match="config schema of 'broken'"):
        ConfigSchema((PackageConfigSchema("broken", {"type": "no-such-type"}),))


def test_a_key_left_open_by_one_schema_is_checked_against_what_others_declare() -> None:
    plugin = {
        "type": "object",
        "properties": {
            "catalog": {"type": "object", "properties": {"providers": {"type": "object"}}}
        },
    }
    module = {
        "type": "object",
        "properties": {
            "catalog": {
                "type": "object",
                "properties": {
                    "providers": {"type": "object", "properties": {"github": {"type": "object"}}}
                },
            }
        },
    }
    config = _config(("a.yaml", {"catalog": {"providers": {"github": {}, "githib": {}}}}))
    alone = ConfigSchema((PackageConfigSchema("catalog", plugin),))
    assert alone.validate(config).warnings == ()
    both = ConfigSchema(
        (PackageConfigSchema("catalog", plugin), PackageConfigSchema("github", module))
    )
    assert [issue.message for issue in both.validate(config).warnings] == [
        "Unknown config key 'catalog.providers.githib' in 'a.yaml', did you mean "
        "'catalog.providers.github'?"
    ]
