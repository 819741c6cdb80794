"""Origins and redirect URLs from the browser, read the way a browser reads them.

Anything a browser and Python's URL parser could read differently (backslashes, user
info, whitespace or control characters) is refused rather than interpreted, so the
origin checked is the origin the browser will go to.
"""

from __future__ import annotations

import re
from urllib.parse import SplitResult, urlsplit

__all__ = ["UrlParseError", "parse_browser_url", "url_origin"]

_UNSAFE = re.compile(r"[\\\s\x00-\x1f\x7f]")
_DEFAULT_PORTS = {"http": 80, "https": 443}


class UrlParseError(ValueError):
    """The text is not an absolute URL both a browser and this backend read alike."""


def parse_browser_url(text: str) -> SplitResult:
    if _UNSAFE.search(text):
        raise UrlParseError(text)
    parts = urlsplit(text)
    if not parts.scheme or not parts.netloc or "@" in parts.netloc:
        raise UrlParseError(text)
    try:
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError as error:
        raise UrlParseError(text) from error
    if not parts.hostname:
        raise UrlParseError(text)
    return parts


def url_origin(parts: SplitResult) -> str:
    """`scheme://host[:port]`, lower case, the default port left out (`URL.origin`)."""
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    if port is not None and _DEFAULT_PORTS.get(scheme) != port:
        return f"{scheme}://{host}:{port}"
    return f"{scheme}://{host}"
