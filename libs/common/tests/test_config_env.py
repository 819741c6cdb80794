"""APP_CONFIG_* environment overrides."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from backstage_common.config import ConfigError, load_config, read_env_config
from hypothesis import assume, given
from hypothesis import strategies as st


def test_values_are_json_parsed_else_kept_as_strings() -> None:
    source = read_env_config(
        {
            "APP_CONFIG_app_title": '"My Title"',
            "APP_CONFIG_app_plain": "plain text",
            "APP_CONFIG_backend_listen_port": "7007",
            "APP_CONFIG_backend_https": "true",
            "APP_CONFIG_backend_cors": '{"origin": ["http://a", "http://b"]}',
            "APP_CONFIG_nan": "NaN",
            "APP_CONFIG_ignored": "",
            "OTHER_VAR": "1",
        }
    )
    assert source is not None
    assert source.context == "env"
    assert source.data == {
        "app": {"title": "My Title", "plain": "plain text"},
        "backend": {
            "listen": {"port": 7007},
            "https": True,
            "cors": {"origin": ["http://a", "http://b"]},
        },
        "nan": "NaN",
    }


def test_no_variables_no_source() -> None:
    assert read_env_config({"PATH": "/bin", "APP_CONFIG_empty": ""}) is None


def test_overrides_apply_last_over_files(tmp_path: Path) -> None:
    path = tmp_path / "app-config.yaml"
    path.write_text("backend:\n  listen: {port: 7007, host: localhost}\n", encoding="utf-8")
    config = load_config([path], env={"APP_CONFIG_backend_listen_port": "8080"})
    assert config.get_number("backend.listen.port") == 8080
    assert config.get_string("backend.listen.host") == "localhost"
    assert config.context_of("backend.listen.port") == "env"
    assert config.context_of("backend.listen.host") == str(path)


def test_type_errors_name_env_as_the_source(tmp_path: Path) -> None:
    config = load_config([], env={"APP_CONFIG_backend_listen_port": "[1]"})
    message = (
        "Invalid type in config for key 'backend.listen.port' in 'env', got array, wanted number"
    )
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}$"):
        config.get_number("backend.listen.port")


def test_null_values_are_errors() -> None:
    with pytest.raises(
        ConfigError,
        match=r"^Invalid config in environment variable 'APP_CONFIG_app_title': "
        r"value may not be null$",
    ):
        read_env_config({"APP_CONFIG_app_title": "null"})


def test_nesting_under_a_scalar_is_an_error() -> None:
    with pytest.raises(
        ConfigError,
        match=r"'APP_CONFIG_app_title_main': could not nest config for key 'app_title_main' "
        r"under existing value 'app_title'",
    ):
        read_env_config({"APP_CONFIG_app_title": "x", "APP_CONFIG_app_title_main": "y"})


def test_duplicate_keys_are_errors() -> None:
    with pytest.raises(
        ConfigError,
        match=r"'APP_CONFIG_app_title': refusing to override existing config at key 'app_title'",
    ):
        read_env_config({"APP_CONFIG_app_title_main": "y", "APP_CONFIG_app_title": "x"})


@pytest.mark.parametrize(
    "name", ["APP_CONFIG_", "APP_CONFIG_app__title", "APP_CONFIG_0app", "APP_CONFIG_app_ti.tle"]
)
def test_invalid_key_segments_are_errors(name: str) -> None:
    with pytest.raises(ConfigError, match=f"^Invalid config in environment variable '{name}'"):
        read_env_config({name: "x"})


def test_segments_follow_backstages_env_pattern() -> None:
    source = read_env_config({"APP_CONFIG_integrations_github-com_api:v3": "1"})
    assert source is not None
    assert source.data == {"integrations": {"github-com": {"api:v3": 1}}}


_JSON = st.recursive(
    st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@given(_JSON)
def test_json_values_round_trip(value: object) -> None:
    source = read_env_config({"APP_CONFIG_some_key": json.dumps(value)})
    assert source is not None
    assert source.data == {"some": {"key": value}}


def _is_strict_json(text: str) -> bool:
    def reject(name: str) -> object:
        raise ValueError(name)

    try:
        json.loads(text, parse_constant=reject)
    except ValueError:
        return False
    return True


@given(st.text(min_size=1))
def test_values_that_are_not_json_stay_strings(text: str) -> None:
    assume(not _is_strict_json(text))
    source = read_env_config({"APP_CONFIG_key": text})
    assert source is not None
    assert source.data == {"key": text}
