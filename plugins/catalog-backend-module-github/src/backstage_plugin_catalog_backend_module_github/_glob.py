"""Matching pushed paths against `catalogPath` with minimatch's rules, as Backstage does:
`*` and `?` stay within one segment, `**` spans any number of them, and a wildcard never
matches a leading dot of a segment."""

from __future__ import annotations

import re
from functools import lru_cache

__all__ = ["matches_catalog_path"]


def _segment(pattern: str) -> str:
    out = [] if pattern.startswith(".") else ["(?!\\.)"]
    for char in pattern:
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        else:
            out.append(re.escape(char))
    return "".join(out)


_ANY_SEGMENTS = "(?:(?!\\.)[^/]+/)*"
_LAST_ANY = "(?!\\.)[^/]+(?:/(?!\\.)[^/]+)*"


@lru_cache(maxsize=64)
def _compile(pattern: str) -> re.Pattern[str]:
    segments = pattern.strip("/").split("/")
    parts = [_ANY_SEGMENTS if s == "**" else _segment(s) + "/" for s in segments[:-1]]
    last = segments[-1]
    parts.append(_LAST_ANY if last == "**" else _segment(last))
    return re.compile("".join(parts) + "$")


def matches_catalog_path(path: str, pattern: str) -> bool:
    """Whether a repository path matches the provider's `catalogPath`.

    Args:
        path: a path in the repository, without a leading slash.
        pattern: `catalogPath` (a leading slash is ignored).
    """
    return _compile(pattern).match(path.lstrip("/")) is not None
