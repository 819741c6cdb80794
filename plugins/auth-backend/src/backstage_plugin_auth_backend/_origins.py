"""Which origins may receive sign-in results: `app.baseUrl`'s, and the
`auth.experimentalExtraAllowedOrigins` globs (minimatch's rules as Backstage uses them:
case-insensitive, `*` and `?` never cross a `/`, `{a,b}` alternatives, no `**`)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

__all__ = ["create_origin_filter"]


def _glob(pattern: str) -> re.Pattern[str]:
    out: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "{" and "}" in pattern[index:]:
            end = pattern.index("}", index)
            choices = pattern[index + 1 : end].split(",")
            out.append("(?:" + "|".join(re.escape(choice) for choice in choices) + ")")
            index = end
        else:
            out.append(re.escape(char))
        index += 1
    return re.compile("".join(out), re.IGNORECASE)


_DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(url: str) -> str:
    # as `new URL(url).origin`: lower case, the scheme's default port left out
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port is not None and _DEFAULT_PORTS.get(scheme) != parts.port:
        return f"{scheme}://{host}:{parts.port}"
    return f"{scheme}://{host}"


def create_origin_filter(app_url: str, extra: Sequence[str]) -> Callable[[str], bool]:
    app_origin = _origin(app_url)
    patterns = [_glob(pattern) for pattern in extra]

    def is_origin_allowed(origin: str) -> bool:
        if origin == app_origin:
            return True
        return any(pattern.fullmatch(origin) for pattern in patterns)

    return is_origin_allowed
