"""Durations in config, after Backstage's `readDurationFromConfig` and `HumanDuration`.

A duration can be written as:

- a number of milliseconds: `1500`;
- a number and a unit: `'30s'`, `'2 minutes'`, `'1h'`, `'500ms'`, `'1.5 days'`;
- an ISO 8601 duration: `'PT30S'`, `'P2DT6H'`;
- an object of units: `{minutes: 1, seconds: 30}`.

Units are years, months, weeks, days, hours, minutes, seconds and milliseconds. As in
Backstage (which converts through luxon), a year is 365 days and a month is 30 days.
Negative durations are rejected.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import timedelta

import isodate  # type: ignore[import-untyped]

from backstage_common.config import Config, ConfigError
from backstage_common.config._values import is_valid_key_part, parse_number, type_name
from backstage_common.errors import InputError

__all__ = ["parse_duration", "read_duration", "read_optional_duration"]

_UNITS: dict[str, timedelta] = {
    "years": timedelta(days=365),
    "months": timedelta(days=30),
    "weeks": timedelta(weeks=1),
    "days": timedelta(days=1),
    "hours": timedelta(hours=1),
    "minutes": timedelta(minutes=1),
    "seconds": timedelta(seconds=1),
    "milliseconds": timedelta(milliseconds=1),
}
_UNIT_LIST = ", ".join(f"'{unit}'" for unit in _UNITS)

# The unit spellings of the `ms` package that Backstage uses, plus months.
_UNIT_ALIASES: dict[str, str] = {
    alias: unit
    for unit, aliases in {
        "years": ("years", "year", "yrs", "yr", "y"),
        "months": ("months", "month", "mo"),
        "weeks": ("weeks", "week", "w"),
        "days": ("days", "day", "d"),
        "hours": ("hours", "hour", "hrs", "hr", "h"),
        "minutes": ("minutes", "minute", "mins", "min", "m"),
        "seconds": ("seconds", "second", "secs", "sec", "s"),
        "milliseconds": ("milliseconds", "millisecond", "msecs", "msec", "ms"),
    }.items()
    for alias in aliases
}
_HUMAN = re.compile(r"(?P<amount>-?[0-9]*\.?[0-9]+) *(?P<unit>[a-z]*)", re.IGNORECASE)


class _Invalid(Exception):
    """Why a value is not a duration; `prop` names the offending unit of an object."""

    def __init__(self, reason: str, prop: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.prop = prop


def parse_duration(value: object, *, key: str = "<value>") -> timedelta:
    """Parse a duration in any of the supported forms; `key` names it in errors.

    Raises InputError when `value` is not a valid, non-negative duration.
    """
    try:
        return _parse(value)
    except _Invalid as invalid:
        where = key if invalid.prop is None else f"{key}.{invalid.prop}"
        raise InputError(f"Invalid duration at '{where}': {invalid.reason}") from None


def read_duration(config: Config, key: str) -> timedelta:
    """Read the duration at `key`; errors name the full key path and the file."""
    return _read(config, key, config.get(key))


def read_optional_duration(config: Config, key: str) -> timedelta | None:
    """Read the duration at `key`, or None when it is not set."""
    if not config.has(key):
        return None
    return _read(config, key, config.get_optional(key))


def _read(config: Config, key: str, value: object) -> timedelta:
    try:
        return _parse(value)
    except _Invalid as invalid:
        prop = invalid.prop
        at = key if prop is None else f"{key}.{prop}"
        # Name the file of the offending unit when its name can be looked up as a key.
        context = config.context_of(at if prop is None or is_valid_key_part(prop) else key)
        where = config.full_key(at)
        source = "" if context is None else f" in '{context}'"
        raise ConfigError(f"Invalid duration at '{where}'{source}: {invalid.reason}") from None


def _parse(value: object) -> timedelta:
    try:
        result = _parse_any(value)
    except OverflowError:
        raise _Invalid("the duration is too long") from None
    if result < timedelta(0):
        raise _Invalid("negative durations are not allowed")
    return result


def _parse_any(value: object) -> timedelta:
    if isinstance(value, str):
        result = _parse_string(value.strip())
    elif isinstance(value, Mapping):
        result = _parse_object(value)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise _Invalid(f"{value} is not a finite number of milliseconds")
        result = _UNITS["milliseconds"] * value
    else:
        raise _Invalid(
            f"got {type_name(value)}, wanted a number of milliseconds, a string such as "
            f"'30s' or 'PT30S', or an object of units"
        )
    return result


def _parse_string(text: str) -> timedelta:
    if text.startswith(("P", "-P")):
        return _parse_iso(text)
    match = _HUMAN.fullmatch(text)
    if match is None:
        raise _Invalid(
            f"'{text}' is not a valid duration string, try a number followed by a unit "
            "such as '1d' or '2 seconds'"
        )
    if not match["unit"]:
        raise _Invalid(
            f"'{text}' cannot be a plain number; try adding a unit like 'ms' or 'seconds'"
        )
    unit = _UNIT_ALIASES.get(match["unit"].lower())
    if unit is None:
        raise _Invalid(
            f"'{text}' has an unknown unit '{match['unit']}'; expected one of {_UNIT_LIST}"
        )
    return _UNITS[unit] * float(match["amount"])


def _parse_iso(text: str) -> timedelta:
    hint = "expected a value similar to 'P2DT6H' (2 days 6 hours) or 'PT1M' (1 minute)"
    if not any(char.isdigit() for char in text):
        raise _Invalid(f"'{text}' is not a valid ISO 8601 duration, no values given")
    try:
        parsed = isodate.parse_duration(text)
    except (ValueError, isodate.ISO8601Error):
        raise _Invalid(f"'{text}' is not a valid ISO 8601 duration, {hint}") from None
    if isinstance(parsed, timedelta):
        return parsed
    # An isodate.Duration: calendar years and months beside a plain timedelta.
    tdelta: timedelta = parsed.tdelta
    return _UNITS["years"] * float(parsed.years) + _UNITS["months"] * float(parsed.months) + tdelta


def _parse_object(value: Mapping[object, object]) -> timedelta:
    if not value:
        raise _Invalid(f"needs one or more of {_UNIT_LIST}")
    unknown = [str(prop) for prop in value if prop not in _UNITS]
    if unknown:
        what = "property" if len(unknown) == 1 else "properties"
        names = ", ".join(f"'{prop}'" for prop in unknown)
        raise _Invalid(f"unknown {what} {names}; expected one or more of {_UNIT_LIST}", unknown[0])
    total = timedelta(0)
    for prop, amount in value.items():
        unit = str(prop)
        number = parse_number(amount) if isinstance(amount, str) else amount
        if isinstance(amount, str) and number is None:
            raise _Invalid(f"unable to convert '{amount}' to a number", unit)
        if isinstance(number, bool) or not isinstance(number, int | float):
            raise _Invalid(f"got {type_name(amount)}, wanted a number", unit)
        if not math.isfinite(number):
            raise _Invalid(f"{number} is not a finite number", unit)
        total += _UNITS[unit] * number
    return total
