"""What validating a config reports: issues naming the key and the file it came from."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass

from jsonschema.exceptions import ValidationError

from backstage_common.config._errors import ConfigError
from backstage_common.config._reader import Config

__all__ = ["ConfigIssue", "issue_from_error", "unknown_key_issue"]


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    """A problem found in the config.

    Args:
        key: the dotted key from the config root (`backend.listen.port`).
        context: the file (or `env`) the value came from, when known.
        message: what is wrong, naming the key and the file.
    """

    key: str
    context: str | None
    message: str


def _dotted(path: Sequence[str | int]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _context(config: Config, path: Sequence[str | int]) -> str | None:
    """The file the value at `path` came from (for an array item, the array's file)."""
    keys: list[str] = []
    for part in path:
        if isinstance(part, int):
            break
        keys.append(part)
    while keys:
        try:
            context = config.context_of(".".join(keys))
        except ConfigError:
            context = None
        if context is not None:
            return context
        keys.pop()
    return None


def issue_from_error(config: Config, error: ValidationError, package: str) -> ConfigIssue:
    # of the branches of an anyOf/oneOf, the one the value came closest to says best what
    # is wrong (`backend.listen.port` is not a number, rather than `backend.listen` matches
    # no branch)
    while error.validator in ("anyOf", "oneOf") and error.context:
        deeper = max(error.context, key=lambda each: len(each.absolute_path))
        if len(deeper.absolute_path) <= len(error.absolute_path):
            break
        error = deeper
    path = list(error.absolute_path)
    key = _dotted(path) or "<root>"
    context = _context(config, path)
    where = f" in '{context}'" if context else ""
    if error.validator == "type":
        expected = error.validator_value
        wanted = " or ".join(expected) if isinstance(expected, list) else str(expected)
        message = (
            f"Config value for key '{key}'{where} has the wrong type: got "
            f"{_json_type(error.instance)}, wanted {wanted}"
        )
    else:
        message = f"Config value for key '{key}'{where} is invalid: {error.message}"
    return ConfigIssue(key=key, context=context, message=f"{message} (schema of '{package}')")


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def unknown_key_issue(config: Config, path: list[str | int], known: list[str]) -> ConfigIssue:
    key = _dotted(path)
    context = _context(config, path)
    where = f" in '{context}'" if context else ""
    name = path[-1]
    close = difflib.get_close_matches(str(name), known, n=1, cutoff=0.6)
    message = f"Unknown config key '{key}'{where}"
    if close:
        message += f", did you mean '{_dotted([*path[:-1], close[0]])}'?"
    return ConfigIssue(key=key, context=context, message=message)
