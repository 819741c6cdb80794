"""Config: typed getters, error messages, and how layered sources merge."""

from __future__ import annotations

import re
from contextlib import AbstractContextManager

import pytest
from backstage_common.config import Config, ConfigError, ConfigSource
from backstage_common.errors import InputError

DATA = {
    "zero": 0,
    "one": 1,
    "ratio": 0.5,
    "numeric": "7007",
    "floaty": " 1.5e3 ",
    "hexy": "0x1F",
    "flag": True,
    "off": False,
    "yes": "yes",
    "nope": "OFF",
    "null": None,
    "string": "string",
    "emptyString": "",
    "strings": ["string1", "string2"],
    "badStrings": ["string1", ""],
    "worseStrings": ["string1", 3],
    "nested": {"one": 1, "string": "string", "deeper": {"flag": True}},
    "nestlings": [{"boolean": True}, {"string": "string"}, {"number": 42}],
    "mixedNestlings": [{"ok": 1}, "not-an-object"],
}


@pytest.fixture
def config() -> Config:
    return Config.from_data(DATA, "app-config.yaml")


def expect_error(message: str) -> AbstractContextManager[pytest.ExceptionInfo[ConfigError]]:
    return pytest.raises(ConfigError, match=f"^{re.escape(message)}$")


def test_config_error_is_an_input_error() -> None:
    assert issubclass(ConfigError, InputError)


def test_reads_every_type(config: Config) -> None:
    assert config.get_number("zero") == 0
    assert config.get_number("one") == 1
    assert config.get_number("ratio") == 0.5
    assert config.get_boolean("flag") is True
    assert config.get_boolean("off") is False
    assert config.get_string("string") == "string"
    assert config.get_string_array("strings") == ["string1", "string2"]
    assert config.get_config("nested").get_number("one") == 1
    assert config.get_config("nested").get_boolean("deeper.flag") is True
    assert config.get_number("nested.one") == 1
    assert config.get("nested") == {"one": 1, "string": "string", "deeper": {"flag": True}}
    first, second, third = config.get_config_array("nestlings")
    assert first.get_boolean("boolean") is True
    assert second.get_string("string") == "string"
    assert third.get_number("number") == 42


def test_optional_getters_return_none_when_missing(config: Config) -> None:
    assert config.get_optional("missing") is None
    assert config.get_optional_string("missing") is None
    assert config.get_optional_number("nested.missing") is None
    assert config.get_optional_boolean("missing") is None
    assert config.get_optional_config("missing") is None
    assert config.get_optional_config_array("missing") is None
    assert config.get_optional_string_array("missing") is None
    assert config.get_optional_number("one") == 1


def test_numbers_convert_from_numeric_strings(config: Config) -> None:
    assert config.get_number("numeric") == 7007
    assert isinstance(config.get_number("numeric"), int)
    assert config.get_number("floaty") == 1500.0
    assert config.get_number("hexy") == 31


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        *[(text, True) for text in ["y", "yes", "true", "TRUE", "1", "on", " On "]],
        *[(text, False) for text in ["n", "no", "false", "False", "0", "off"]],
        (1, True),
        (0, False),
    ],
)
def test_booleans_convert_from_the_forms_backstage_accepts(raw: object, expected: bool) -> None:
    assert Config.from_data({"value": raw}).get_boolean("value") is expected


def test_type_errors_name_key_type_and_file(config: Config) -> None:
    with expect_error(
        "Invalid type in config for key 'flag' in 'app-config.yaml', got boolean, wanted number"
    ):
        config.get_number("flag")
    with expect_error(
        "Invalid type in config for key 'one' in 'app-config.yaml', got number, wanted string"
    ):
        config.get_string("one")
    with expect_error(
        "Invalid type in config for key 'nested' in 'app-config.yaml', got object, wanted boolean"
    ):
        config.get_boolean("nested")
    with expect_error(
        "Invalid type in config for key 'null' in 'app-config.yaml', got null, wanted string-array"
    ):
        config.get_string_array("null")
    with expect_error(
        "Invalid type in config for key 'one' in 'app-config.yaml', got number, wanted object"
    ):
        config.get_config("one")
    with expect_error(
        "Invalid type in config for key 'one' in 'app-config.yaml', got number, wanted object-array"
    ):
        config.get_config_array("one")


def test_empty_strings_are_not_strings(config: Config) -> None:
    with expect_error(
        "Invalid type in config for key 'emptyString' in 'app-config.yaml', "
        "got empty-string, wanted string"
    ):
        config.get_string("emptyString")


def test_array_errors_name_the_element(config: Config) -> None:
    with expect_error(
        "Invalid type in config for key 'badStrings[1]' in 'app-config.yaml', "
        "got empty-string, wanted string"
    ):
        config.get_string_array("badStrings")
    with expect_error(
        "Invalid type in config for key 'worseStrings[1]' in 'app-config.yaml', "
        "got number, wanted string"
    ):
        config.get_string_array("worseStrings")
    with expect_error(
        "Invalid type in config for key 'mixedNestlings[1]' in 'app-config.yaml', "
        "got string, wanted object"
    ):
        config.get_config_array("mixedNestlings")


def test_conversion_errors(config: Config) -> None:
    with expect_error(
        "Unable to convert config value for key 'string' in 'app-config.yaml' to a number"
    ):
        config.get_number("string")
    with expect_error(
        "Unable to convert config value for key 'string' in 'app-config.yaml' to a boolean"
    ):
        config.get_boolean("string")
    with expect_error(
        "Unable to convert config value for key 'ratio' in 'app-config.yaml' to a boolean"
    ):
        config.get_boolean("ratio")


def test_sub_config_errors_name_the_full_key_path() -> None:
    config = Config.from_data(
        {"backend": {"listen": {"port": True}, "items": [{"name": 1}]}}, "app-config.yaml"
    )
    listen = config.get_config("backend").get_config("listen")
    with expect_error(
        "Invalid type in config for key 'backend.listen.port' in 'app-config.yaml', "
        "got boolean, wanted number"
    ):
        listen.get_number("port")
    with expect_error(
        "Missing required config value at 'backend.listen.host' in 'app-config.yaml'"
    ):
        listen.get_string("host")
    (item,) = config.get_config_array("backend.items")
    with expect_error(
        "Invalid type in config for key 'backend.items[0].name' in 'app-config.yaml', "
        "got number, wanted string"
    ):
        item.get_string("name")
    assert listen.full_key("port") == "backend.listen.port"


def test_missing_values_name_the_key_and_file(config: Config) -> None:
    with expect_error("Missing required config value at 'backend.baseUrl' in 'app-config.yaml'"):
        config.get_string("backend.baseUrl")
    with expect_error("Missing required config value at 'nested.missing' in 'app-config.yaml'"):
        config.get("nested.missing")


def test_reading_through_a_scalar_is_a_type_error(config: Config) -> None:
    with expect_error(
        "Invalid type in config for key 'string' in 'app-config.yaml', got string, wanted object"
    ):
        config.get_number("string.port")


@pytest.mark.parametrize(
    "key", [".", "0", "(", "z-_", "-", ".a", "0.a", "a.0a", "a..a", "a.", "a._", "a.-.a", ""]
)
def test_invalid_keys_are_rejected(config: Config, key: str) -> None:
    with pytest.raises(ConfigError, match=r"^Invalid config key"):
        config.get_optional(key)


@pytest.mark.parametrize("key", ["x", "x_x", "x-X", "x0", "X-x2", "x0_x0", "x_x-x_x"])
def test_valid_keys_are_accepted(config: Config, key: str) -> None:
    assert config.get_optional_string(key) is None


def test_has_and_keys(config: Config) -> None:
    assert config.has("zero")
    assert config.has("off")
    assert config.has("null")
    assert config.has("nested.one")
    assert not config.has("missing")
    assert not config.has("nested.missing")
    assert config.keys() == list(DATA)
    assert config.get_config("nested").keys() == ["one", "string", "deeper"]


def test_get_returns_a_copy(config: Config) -> None:
    nested = config.get("nested")
    assert isinstance(nested, dict)
    nested["one"] = 2
    assert config.get_number("nested.one") == 1


def test_get_without_key_returns_the_whole_level(config: Config) -> None:
    assert config.get_config("nested").get() == DATA["nested"]
    assert Config.from_sources([]).get_optional() is None
    assert Config.from_data({}).get() == {}


def test_from_data_rejects_values_that_are_not_json() -> None:
    with pytest.raises(ConfigError, match=r"key 'a\.b' in 'mock-config', got object"):
        Config.from_data({"a": {"b": object()}})


# -- several sources ---------------------------------------------------------------------

BASE = ConfigSource(
    {
        "merged": {"x": "x", "z": "z1", "arr": ["a", "b"], "config": {"d": "d"}},
        "flag": True,
        "shadowed": {"a": 1},
        "badBefore": {"a": True},
    },
    "app-config.yaml",
)
LOCAL = ConfigSource(
    {
        "merged": {"y": "y", "z": "z2", "arr": ["c"], "config": {"e": "e"}},
        "shadowed": "replaced",
        "badBefore": True,
    },
    "app-config.local.yaml",
)


def test_later_sources_win_objects_merge_and_arrays_replace() -> None:
    config = Config.from_sources([BASE, LOCAL])
    assert config.get("merged") == {
        "x": "x",
        "z": "z2",
        "arr": ["c"],
        "config": {"d": "d", "e": "e"},
        "y": "y",
    }
    assert config.get_string("merged.z") == "z2"
    assert config.get_string_array("merged.arr") == ["c"]
    assert config.get_config("merged").get_string("config.d") == "d"
    assert config.get_config("merged").keys() == ["x", "z", "arr", "config", "y"]
    assert config.get("shadowed") == "replaced"


def test_a_later_object_hides_an_earlier_scalar() -> None:
    config = Config.from_sources([LOCAL, BASE])
    assert config.get("shadowed") == {"a": 1}
    assert config.get_config("badBefore").get_boolean("a") is True
    assert config.get_optional_number("badBefore.b") is None


def test_errors_name_the_file_the_value_came_from() -> None:
    config = Config.from_sources([BASE, LOCAL])
    with expect_error(
        "Invalid type in config for key 'flag' in 'app-config.yaml', got boolean, wanted number"
    ):
        config.get_number("flag")
    with expect_error(
        "Unable to convert config value for key 'merged.y' in 'app-config.local.yaml' to a number"
    ):
        config.get_config("merged").get_number("y")
    with expect_error(
        "Invalid type in config for key 'badBefore' in 'app-config.local.yaml', "
        "got boolean, wanted object"
    ):
        config.get_number("badBefore.a")
    assert config.context_of("merged.x") == "app-config.yaml"
    assert config.context_of("merged.z") == "app-config.local.yaml"
    assert config.context_of("merged.missing") is None


def test_missing_values_name_every_source() -> None:
    config = Config.from_sources([BASE, LOCAL])
    with expect_error(
        "Missing required config value at 'backend.baseUrl' in any of "
        "'app-config.yaml', 'app-config.local.yaml'"
    ):
        config.get_string("backend.baseUrl")
    with expect_error(
        "Missing required config value at 'merged.config.f' in any of "
        "'app-config.yaml', 'app-config.local.yaml'"
    ):
        config.get_config("merged").get_config("config").get_string("f")
