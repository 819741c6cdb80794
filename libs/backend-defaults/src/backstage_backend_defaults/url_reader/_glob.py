"""minimatch's glob semantics (Backstage's search patterns), as a regular expression.

`*` and `?` never cross `/`; `**` as a whole segment matches any number of segments; a
segment starting with `.` is matched only by a pattern segment that starts with `.` too.
Python's `fnmatch` and `glob` differ on each of these, hence this small translator.
"""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = ["compile_glob", "has_glob"]

_GLOB_CHARACTERS = re.compile(r"[*?\[]")


def has_glob(path: str) -> bool:
    """Whether `path` holds a glob character (`*`, `?` or `[`)."""
    return _GLOB_CHARACTERS.search(path) is not None


def _segment(pattern: str) -> str:
    out = "" if pattern.startswith(".") else r"(?!\.)"
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "*":
            out += "[^/]*"
        elif char == "?":
            out += "[^/]"
        elif char == "[":
            end = pattern.find("]", index + 1)
            if end == -1:
                out += re.escape(char)
            else:
                body = pattern[index + 1 : end].replace("\\", "\\\\")
                if body.startswith("!"):
                    body = "^" + body[1:]
                out += f"[{body}]"
                index = end
        else:
            out += re.escape(char)
        index += 1
    return out


def compile_glob(pattern: str) -> Callable[[str], bool]:
    """A predicate telling whether a relative path (no leading `/`) matches `pattern`.

    Args:
        pattern: a minimatch pattern such as `**/catalog-info.yaml` (a leading `/` is
            dropped).
    """
    parts = [p for p in pattern.strip("/").split("/") if p]
    regex = ""
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        if part == "**":
            # zero or more segments, none of them a dotfile
            regex += r"(?:(?!\.)[^/]*(?:/|$))*"
        else:
            regex += _segment(part) + ("" if last else "/")
    compiled = re.compile(f"^{regex}$")

    def matches(path: str) -> bool:
        return compiled.match(path) is not None

    return matches
