"""load_config: YAML files, merging, substitution and includes."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
from backstage_common.config import ConfigError, load_config, read_config_file


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def test_two_files_deep_merge_and_replace_arrays(tmp_path: Path) -> None:
    base = write(
        tmp_path / "app-config.yaml",
        """
        app:
          title: Base
          plugins: [catalog, search]
        backend:
          listen: {port: 7007, host: 0.0.0.0}
        """,
    )
    local = write(
        tmp_path / "app-config.local.yaml",
        """
        app:
          plugins: [scaffolder]
        backend:
          listen: {port: 8080}
          baseUrl: http://localhost:8080
        """,
    )
    config = load_config([base, local], env={})
    assert config.get_string("app.title") == "Base"
    assert config.get_string_array("app.plugins") == ["scaffolder"]
    assert config.get_number("backend.listen.port") == 8080
    assert config.get_string("backend.listen.host") == "0.0.0.0"
    assert config.get_string("backend.baseUrl") == "http://localhost:8080"
    assert config.context_of("app.title") == str(base)
    assert config.context_of("backend.listen.port") == str(local)


def test_type_errors_name_the_file_of_the_value(tmp_path: Path) -> None:
    base = write(tmp_path / "app-config.yaml", "backend: {listen: {port: 7007}}\n")
    local = write(tmp_path / "app-config.local.yaml", "backend: {listen: {port: true}}\n")
    config = load_config([base, local], env={})
    message = (
        f"Invalid type in config for key 'backend.listen.port' in '{local}', "
        "got boolean, wanted number"
    )
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}$"):
        config.get_config("backend").get_number("listen.port")


def test_yaml_follows_the_yaml_1_2_core_schema(tmp_path: Path) -> None:
    path = write(
        tmp_path / "app-config.yaml",
        """
        answer: yes
        country: NO
        switch: on
        date: 2024-01-01
        mode: 0755
        hex: 0x1F
        enabled: true
        ratio: 1.5
        """,
    )
    config = load_config([path], env={})
    assert config.get("answer") == "yes"
    assert config.get("country") == "NO"
    assert config.get("switch") == "on"
    assert config.get("date") == "2024-01-01"
    assert config.get("mode") == 755
    assert config.get("hex") == 31
    assert config.get("enabled") is True
    assert config.get("ratio") == 1.5


def test_malformed_yaml_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path / "app-config.yaml", "app:\n  title: ok\n  list: [a, b\n")
    with pytest.raises(ConfigError, match=rf"^Failed to parse YAML in '{re.escape(str(path))}' "):
        load_config([path], env={})
    path = write(tmp_path / "bad.yaml", "app:\n  title: ok\n bad: indent\n")
    with pytest.raises(ConfigError, match=r"at line 3, column 2: .*did not find expected key"):
        load_config([path], env={})


def test_duplicate_keys_are_errors(tmp_path: Path) -> None:
    path = write(tmp_path / "app-config.yaml", "app:\n  title: a\n  title: b\n")
    with pytest.raises(ConfigError, match=r"at line 3, column 3: .*duplicate key 'title'"):
        load_config([path], env={})


def test_missing_file_names_its_path(tmp_path: Path) -> None:
    path = tmp_path / "nope" / "app-config.yaml"
    with pytest.raises(ConfigError, match=f"^Config file '{re.escape(str(path))}' does not exist$"):
        load_config([path], env={})


def test_root_must_be_a_mapping(tmp_path: Path) -> None:
    path = write(tmp_path / "app-config.yaml", "- a\n- b\n")
    with pytest.raises(ConfigError, match="expected an object at the root, got array"):
        load_config([path], env={})


def test_an_empty_file_adds_nothing(tmp_path: Path) -> None:
    empty = write(tmp_path / "empty.yaml", "# nothing here\n")
    assert read_config_file(empty, env={}) is None
    assert load_config([empty], env={}).keys() == []


def test_env_defaults_to_the_process_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path / "app-config.yaml", "app:\n  title: ${TEST_TITLE}\n")
    monkeypatch.setenv("TEST_TITLE", "From environ")
    monkeypatch.setenv("APP_CONFIG_app_subtitle", "Sub")
    config = load_config([path])
    assert config.get("app") == {"title": "From environ", "subtitle": "Sub"}


# -- substitution ------------------------------------------------------------------------


def test_substitution(tmp_path: Path) -> None:
    path = write(
        tmp_path / "app-config.yaml",
        """
        plain: token ${TOKEN}
        spaced: ${ TOKEN }
        twice: ${TOKEN}-${OTHER}
        padded: ${PADDED}
        port: ${PORT}
        fallback: ${MISSING:-http://localhost:3000}
        emptyFallback: ${EMPTY:-used}
        setFallback: ${TOKEN:-unused}
        escaped: $${TOKEN} and $$${TOKEN}
        removed: foo ${MISSING}
        list: [a, "${MISSING}", "${TOKEN}"]
        nested:
          gone: ${MISSING}
        """,
    )
    env = {"TOKEN": "abc", "OTHER": "def", "PADDED": "  padded\n", "PORT": "7007", "EMPTY": ""}
    config = load_config([path], env=env)
    assert config.get_string("plain") == "token abc"
    assert config.get_string("spaced") == "abc"
    assert config.get_string("twice") == "abc-def"
    assert config.get_string("padded") == "padded"
    assert config.get_number("port") == 7007
    assert config.get_string("fallback") == "http://localhost:3000"
    assert config.get_string("emptyFallback") == "used"
    assert config.get_string("setFallback") == "abc"
    assert config.get_string("escaped") == "${TOKEN} and $${TOKEN}"
    assert not config.has("removed")
    assert config.get_string_array("list") == ["a", "abc"]
    assert config.get("nested") == {}


def test_booleans_from_substitution_read_as_booleans(tmp_path: Path) -> None:
    path = write(tmp_path / "app-config.yaml", "database:\n  ensureExists: ${ENSURE}\n")
    config = load_config([path], env={"ENSURE": "false"})
    assert config.get_boolean("database.ensureExists") is False


# -- includes ----------------------------------------------------------------------------


def test_env_include(tmp_path: Path) -> None:
    path = write(
        tmp_path / "app-config.yaml",
        """
        secret: {$env: SECRET}
        gone: {$env: MISSING}
        """,
    )
    config = load_config([path], env={"SECRET": " s3cret \n"})
    assert config.get_string("secret") == "s3cret"
    assert not config.has("gone")


def test_file_include_is_relative_to_the_including_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "conf" / "secrets" / "key.pem", "-----KEY-----\nabc ${NOT_SUBSTITUTED}\n\n")
    write(tmp_path / "conf" / "app-config.yaml", "key:\n  $file: secrets/key.pem\n")
    monkeypatch.chdir(tmp_path)
    config = load_config([Path("conf/app-config.yaml")], env={})
    assert config.get_string("key") == "-----KEY-----\nabc ${NOT_SUBSTITUTED}"


def test_file_include_path_can_use_substitution(tmp_path: Path) -> None:
    write(tmp_path / "prod" / "token.txt", "prod-token\n")
    path = write(tmp_path / "app-config.yaml", "token: {$file: '${STAGE}/token.txt'}\n")
    assert load_config([path], env={"STAGE": "prod"}).get_string("token") == "prod-token"


def test_include_with_a_sub_path_and_nested_relative_include(tmp_path: Path) -> None:
    write(
        tmp_path / "shared" / "common.yaml",
        """
        backend:
          database:
            client: pg
            connection: {$include: db/connection.json}
          other: ignored
        """,
    )
    write(tmp_path / "shared" / "db" / "connection.json", '{"host": "${DB_HOST}", "port": 5432}')
    path = write(
        tmp_path / "app-config.yaml",
        """
        backend:
          database: {$include: shared/common.yaml#backend.database}
        """,
    )
    config = load_config([path], env={"DB_HOST": "db.internal"})
    assert config.get("backend.database") == {
        "client": "pg",
        "connection": {"host": "db.internal", "port": 5432},
    }


def test_include_of_a_whole_yml_file(tmp_path: Path) -> None:
    write(tmp_path / "parts" / "app.yml", "title: Included\nitems: [1, 2]\n")
    path = write(tmp_path / "app-config.yaml", "app: {$include: parts/app.yml}\n")
    assert load_config([path], env={}).get("app") == {"title": "Included", "items": [1, 2]}


def test_include_errors(tmp_path: Path) -> None:
    missing = write(tmp_path / "a.yaml", "app: {$include: nope.yaml}\n")
    with pytest.raises(ConfigError, match=r"error at 'app': failed to include '.*nope\.yaml'"):
        load_config([missing], env={})
    unknown = write(tmp_path / "b.yaml", "app: {$include: data.txt}\n")
    with pytest.raises(ConfigError, match="no configuration parser available for included file"):
        load_config([unknown], env={})
    write(tmp_path / "broken.yaml", "a: [1\n")
    broken = write(tmp_path / "c.yaml", "app: {$include: broken.yaml}\n")
    with pytest.raises(ConfigError, match=r"broken\.yaml' at line 2, column 1"):
        load_config([broken], env={})
    not_string = write(tmp_path / "d.yaml", "app: {$file: 42}\n")
    with pytest.raises(ConfigError, match=r"\$file include value is not a string"):
        load_config([not_string], env={})


def test_include_key_with_siblings_is_an_error(tmp_path: Path) -> None:
    path = write(
        tmp_path / "app-config.yaml",
        """
        backend:
          auth:
            keys:
              - $env: SECRET
                extra: nope
        """,
    )
    message = (
        f"Failed to read config file '{path}', error at 'backend.auth.keys[0]': "
        "include key $env should not have adjacent keys ('extra')"
    )
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}$"):
        load_config([path], env={"SECRET": "x"})


def test_errors_in_included_files_name_the_included_file(tmp_path: Path) -> None:
    included = write(tmp_path / "inc" / "part.yaml", "value: {$file: a, $env: B}\n")
    path = write(tmp_path / "app-config.yaml", "part: {$include: inc/part.yaml}\n")
    with pytest.raises(
        ConfigError,
        match=rf"error at 'part\.value' \(in included file '{re.escape(str(included))}'\)",
    ):
        load_config([path], env={})
