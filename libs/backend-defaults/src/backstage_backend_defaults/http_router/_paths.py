"""The one request path that both the plugin gates and the router see.

Litestar routes `normalize_path(path)` (no leading or trailing slash run, `//+` collapsed);
the gates used to read the raw path, so `//api/catalog/...` chose no gate and still reached
the catalog. The ASGI layer canonicalises the path once, here, and hands that same path to
Litestar, so the gate and the router cannot disagree.
"""

from __future__ import annotations

import re
from urllib.parse import quote

__all__ = ["canonical_path", "encode_path", "is_canonical", "plugin_of"]

_SLASHES = re.compile(r"//+")
# What a URL parser resolves: `.` and `..` segments, wherever they sit. The decoded path is
# checked, so `%2e%2e` counts too.
_DOT_SEGMENT = re.compile(r"(?:^|/)\.{1,2}(?:/|$)")
_PATH_SAFE = "/!$&'()*+,;=:@-._~"


def canonical_path(path: str) -> str | None:
    """The path Litestar routes, or None when it holds a `.` or `..` segment.

    Dot segments are refused rather than resolved: no browser or proxy sends them (both
    resolve them first), and a path the gate and the router could read differently is
    safer refused.
    """
    if ("/." in path or path.startswith(".")) and _DOT_SEGMENT.search(path) is not None:
        return None
    if "//" in path:
        path = _SLASHES.sub("/", path)
    if len(path) > 1 and path.endswith("/"):
        path = path.rstrip("/") or "/"
    if not path.startswith("/"):
        path = "/" + path
    return path


def is_canonical(path: str) -> bool:
    """Whether `canonical_path` would return `path` as it is: the common case, told apart
    without a regular expression."""
    return (
        path[:1] == "/"
        and "//" not in path
        and "/." not in path
        and (path[-1] != "/" or len(path) == 1)
    )


def encode_path(path: str) -> bytes:
    """`raw_path` for a canonical path, percent-encoded as a client would send it."""
    return quote(path, safe=_PATH_SAFE).encode("ascii")


def plugin_of(path: str) -> str | None:
    """The plugin id of a canonical `/api/<pluginId>[/...]` path."""
    if not path.startswith("/api/"):
        return None
    end = path.find("/", 5)
    plugin_id = path[5:] if end == -1 else path[5:end]
    return plugin_id or None
