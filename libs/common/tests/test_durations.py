"""Durations: every form Backstage accepts, and errors that name the key and file."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from backstage_common.config import Config, ConfigError, ConfigSource, load_config
from backstage_common.durations import parse_duration, read_duration, read_optional_duration
from backstage_common.errors import InputError
from hypothesis import given
from hypothesis import strategies as st

DAY = timedelta(days=1)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1500, timedelta(milliseconds=1500)),
        (0, timedelta(0)),
        (2.5, timedelta(microseconds=2500)),
        ("30s", timedelta(seconds=30)),
        ("2 minutes", timedelta(minutes=2)),
        ("1h", timedelta(hours=1)),
        ("500ms", timedelta(milliseconds=500)),
        ("1.5 days", timedelta(hours=36)),
        ("2w", timedelta(weeks=2)),
        ("1y", 365 * DAY),
        ("3 months", 90 * DAY),
        ("  10 Secs ", timedelta(seconds=10)),
        ("PT30S", timedelta(seconds=30)),
        ("P2DT6H", timedelta(days=2, hours=6)),
        ("PT1M", timedelta(minutes=1)),
        ("P1Y2M", 365 * DAY + 60 * DAY),
        ({"minutes": 1, "seconds": 30}, timedelta(minutes=1, seconds=30)),
        ({"days": "2", "milliseconds": 5}, timedelta(days=2, milliseconds=5)),
        ({"years": 1, "months": 1, "weeks": 1}, (365 + 30 + 7) * DAY),
        ({"hours": 0.5}, timedelta(minutes=30)),
    ],
)
def test_parses_every_form(value: object, expected: timedelta) -> None:
    assert parse_duration(value) == expected


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("100", "cannot be a plain number; try adding a unit like 'ms' or 'seconds'"),
        ("3 fortnights", "has an unknown unit 'fortnights'"),
        ("soon", "is not a valid duration string"),
        ("1h30m", "is not a valid duration string"),
        ("-5s", "negative durations are not allowed"),
        (-1, "negative durations are not allowed"),
        ("P", "no values given"),
        ("PT", "no values given"),
        ("P1X", "is not a valid ISO 8601 duration"),
        ({}, "needs one or more of 'years', 'months', 'weeks'"),
        ({"minutes": 1, "invalid": 2}, "unknown property 'invalid'; expected one or more of"),
        ({"minutes": "value"}, "unable to convert 'value' to a number"),
        ({"minutes": True}, "got boolean, wanted a number"),
        (True, "got boolean, wanted a number of milliseconds"),
        (None, "got null, wanted a number of milliseconds"),
        (["1s"], "got array"),
        (float("inf"), "is not a finite number"),
        (10**30, "the duration is too long"),
    ],
)
def test_rejects_invalid_values_naming_the_key(value: object, reason: str) -> None:
    with pytest.raises(InputError, match=r"^Invalid duration at 'task\.timeout(\.\w+)?': .*"):
        parse_duration(value, key="task.timeout")
    with pytest.raises(InputError, match=re.escape(reason)):
        parse_duration(value, key="task.timeout")


def test_object_errors_name_the_offending_unit() -> None:
    with pytest.raises(InputError, match=r"^Invalid duration at 'timeout\.minutes': unable"):
        parse_duration({"minutes": "x"}, key="timeout")


def test_read_duration_from_config() -> None:
    config = Config.from_data(
        {"backend": {"shutdownDelay": "5s", "timeout": {"minutes": 2}, "iso": "PT1M"}}
    )
    backend = config.get_config("backend")
    assert read_duration(backend, "shutdownDelay") == timedelta(seconds=5)
    assert read_duration(config, "backend.timeout") == timedelta(minutes=2)
    assert read_optional_duration(config, "backend.iso") == timedelta(minutes=1)
    assert read_optional_duration(config, "backend.missing") is None


def test_read_duration_errors_name_full_key_and_file(tmp_path: Path) -> None:
    path = tmp_path / "app-config.yaml"
    path.write_text("backend:\n  lifecycle:\n    serverShutdownDelay: 5 parsecs\n", "utf-8")
    lifecycle = load_config([path], env={}).get_config("backend.lifecycle")
    message = (
        f"Invalid duration at 'backend.lifecycle.serverShutdownDelay' in '{path}': "
        "'5 parsecs' has an unknown unit 'parsecs'"
    )
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}"):
        read_duration(lifecycle, "serverShutdownDelay")
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}"):
        read_optional_duration(lifecycle, "serverShutdownDelay")


def test_read_duration_names_the_file_of_the_offending_unit() -> None:
    config = Config.from_sources(
        [
            ConfigSource({"timeout": {"minutes": 1}}, "app-config.yaml"),
            ConfigSource({"timeout": {"seconds": "soon"}}, "app-config.local.yaml"),
        ]
    )
    with pytest.raises(
        ConfigError,
        match=r"^Invalid duration at 'timeout\.seconds' in 'app-config\.local\.yaml': unable",
    ):
        read_duration(config, "timeout")


def test_read_duration_of_a_missing_key_is_a_missing_value_error() -> None:
    config = Config.from_data({"backend": {}}, "app-config.yaml")
    with pytest.raises(
        ConfigError,
        match=r"^Missing required config value at 'backend\.timeout' in 'app-config\.yaml'$",
    ):
        read_duration(config, "backend.timeout")


@given(st.integers(min_value=0, max_value=10**12))
def test_milliseconds_round_trip(milliseconds: int) -> None:
    expected = timedelta(milliseconds=milliseconds)
    assert parse_duration(milliseconds) == expected
    assert parse_duration(f"{milliseconds}ms") == expected
    assert parse_duration({"milliseconds": milliseconds}) == expected
