"""gzip response compression for every route, as Backstage's root router does with express
`compression()`: from `backend.compression` (`enabled`, `threshold`, `level`).

A response is compressed when its type is compressible (text, JSON, JavaScript, XML, YAML),
the client prefers gzip (`Accept-Encoding`), it has no `Content-Encoding` yet, no
`Cache-Control: no-transform`, it answers neither `HEAD` nor with 1xx, 204 or 304, and its
body reaches `threshold` bytes. A streamed body (more than one body message) is compressed
whatever its size, chunk by chunk, each chunk flushed so that the client reads it as it
comes. Every response of a compressible type carries `Vary: Accept-Encoding`, compressed or
not, so that shared caches keep both variants apart.

Deflate is ISA-L's (`isal`), at levels 0 (fastest) to 3 (smallest): on entity JSON, level 1
(the default) is 2-4 times as fast as zlib's level 1 and 8-9 times as fast as zlib's default
level 6, for about the same size (6-9-fold smaller). It runs on the event loop: a worker
thread's hand-off costs about what compressing a 100-entity response does.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from backstage_backend_plugin_api import RootConfigService
from backstage_common.config import ConfigError
from isal import isal_zlib
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from backstage_backend_defaults.http_router._accept_encoding import prefers_gzip
from backstage_backend_defaults.http_router._sizes import read_size

__all__ = [
    "CompressionOptions",
    "GzipResponses",
    "read_compression_options",
    "vary_on_encoding",
    "with_vary",
]

_GZIP_WBITS = 31  # a gzip header and trailer around the deflate stream
_NO_BODY_STATUSES = frozenset({204, 304})
_COMPRESSIBLE_SUBTYPES = frozenset(
    {b"json", b"javascript", b"ecmascript", b"x-javascript", b"xml", b"yaml", b"x-yaml"}
)
_COMPRESSIBLE_SUFFIXES = (b"+json", b"+xml", b"+yaml")
_ACCEPT_CACHE_SIZE = 256
_VARY = (b"vary", b"Accept-Encoding")
_PLAIN_HEADERS = frozenset(
    {
        b"content-type",
        b"content-length",
        b"content-disposition",
        b"content-language",
        b"date",
        b"etag",
        b"last-modified",
        b"link",
        b"location",
        b"retry-after",
        b"set-cookie",
        b"www-authenticate",
        b"x-content-type-options",
        b"access-control-allow-origin",
        b"access-control-allow-credentials",
        b"access-control-expose-headers",
    }
)
"""Response headers, lowercase as ASGI asks, that play no part in the compression decision
(`Content-Encoding`, `Cache-Control` and `Vary` do): `with_vary`'s shortcut takes responses
with these alone."""
_COMPRESSIBLE_TYPES: dict[bytes, bool] = {}
"""`Content-Type` headers seen, and whether they are compressible: a backend answers a handful."""
_PLAIN_STATUSES = frozenset(range(200, 600)) - _NO_BODY_STATUSES
"""Statuses whose responses may be compressed."""


@dataclass(frozen=True)
class CompressionOptions:
    enabled: bool = True
    threshold: int = 1024
    """Smallest body, in bytes, that is compressed (streamed bodies always are)."""
    level: int = 1
    """ISA-L's level: 0 (fastest) to 3 (smallest)."""


def read_compression_options(config: RootConfigService) -> CompressionOptions:
    """`backend.compression`: `enabled` (true), `threshold` (`1kb`), `level` (1, of 0-3)."""
    enabled = config.get_optional_boolean("backend.compression.enabled")
    threshold = read_size(config, "backend.compression.threshold", 1024)
    level = config.get_optional_number("backend.compression.level")
    if level is not None and (not 0 <= level <= 3 or level != int(level)):
        raise ConfigError(
            f"Invalid value '{level}' for 'backend.compression.level', use 0 (fastest) to 3"
        )
    return CompressionOptions(
        enabled=enabled is not False,
        threshold=threshold,
        level=1 if level is None else int(level),
    )


def _compressible(content_type: bytes) -> bool:
    known = _COMPRESSIBLE_TYPES.get(content_type)
    if known is not None:
        return known
    media = content_type.split(b";", 1)[0].strip().lower()
    kind, _, subtype = media.partition(b"/")
    compressible = (
        kind == b"text"
        or subtype in _COMPRESSIBLE_SUBTYPES
        or subtype.endswith(_COMPRESSIBLE_SUFFIXES)
    )
    if len(_COMPRESSIBLE_TYPES) >= _ACCEPT_CACHE_SIZE:
        _COMPRESSIBLE_TYPES.clear()
    _COMPRESSIBLE_TYPES[content_type] = compressible
    return compressible


def _varies_on_encoding(vary: bytes) -> bool:
    tokens = {token.strip().lower() for token in vary.split(b",")}
    return b"*" in tokens or b"accept-encoding" in tokens


class GzipResponses:
    """ASGI middleware: gzip-compresses the responses of `app` (see the module's doc)."""

    __slots__ = ("_accepts", "_app", "_level", "_threshold")

    def __init__(self, app: ASGIApp, options: CompressionOptions) -> None:
        self._app = app
        self._threshold = options.threshold
        self._level = options.level
        self._accepts: dict[bytes, bool] = {}

    def accepts_gzip(self, header: bytes) -> bool:
        """Whether a request's (non-empty) `Accept-Encoding` makes gzip the choice.

        Args:
            header: The request's `Accept-Encoding` values, joined with `, `.
        """
        accepted = self._accepts.get(header)
        if accepted is None:
            accepted = prefers_gzip(header.decode("latin-1"))
            if len(self._accepts) >= _ACCEPT_CACHE_SIZE:
                self._accepts.clear()
            self._accepts[header] = accepted
        return accepted

    def takes_gzip(self, scope: Any) -> bool:
        """Whether the request's client prefers gzip (and the request is no `HEAD`).

        Args:
            scope: The request's ASGI scope.
        """
        accept = b""
        for name, value in scope["headers"]:
            if name == b"accept-encoding":
                accept = value if not accept else accept + b", " + value
        return bool(accept) and scope["method"] != "HEAD" and self.accepts_gzip(accept)

    def gzipped(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        """Serves an HTTP request whose client `takes_gzip`."""
        return self._app(scope, receive, _GzipSend(send, True, self._threshold, self._level))

    def __call__(self, asgi_scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        scope: Any = asgi_scope
        if scope["type"] != "http":
            return self._app(scope, receive, send)
        gzip = self.takes_gzip(scope)
        return self._app(scope, receive, _GzipSend(send, gzip, self._threshold, self._level))


def vary_on_encoding(start: dict[str, Any]) -> tuple[dict[str, Any], bytes | None]:
    """A response's start message with `Vary: Accept-Encoding` when the response could be
    compressed, and its `Content-Length` (`b""` when unknown); None in its place when the
    response is never compressed (the message then passes as it is).

    Args:
        start: The `http.response.start` message.
    """
    status: int = start["status"]
    if status < 200 or status in _NO_BODY_STATUSES:
        return start, None
    content_type = encoding = length = b""
    vary: bytes | None = None
    no_transform = False
    for name, value in start["headers"]:
        lowered = name.lower()
        if lowered == b"content-type":
            content_type = value
        elif lowered == b"content-encoding":
            encoding = value
        elif lowered == b"content-length":
            length = value
        elif lowered == b"cache-control":
            no_transform = b"no-transform" in value.lower()
        elif lowered == b"vary":
            vary = value if vary is None else vary + b"," + value
    encoded = encoding.strip().lower() not in (b"", b"identity")
    if encoded or no_transform or not _compressible(content_type):
        return start, None
    headers = list(start["headers"])
    if vary is None or not _varies_on_encoding(vary):
        headers.append((b"vary", b"Accept-Encoding"))
    return {**start, "headers": headers}, length


def with_vary(start: dict[str, Any]) -> dict[str, Any]:
    """`vary_on_encoding(start)[0]`, with a shortcut for the usual response: a list of
    headers named in lowercase (as ASGI asks), none of which decides anything but its
    content type, one seen before and compressible. Such a list gets `Vary` appended in
    place: no copy of the message or its headers. A list with a `Vary` already (one an app
    sends again, say) takes the general path, which adds one only when that lacks it.

    Args:
        start: The `http.response.start` message.
    """
    headers = start["headers"]
    if type(headers) is list and start["status"] in _PLAIN_STATUSES:
        content_type = b""
        for name, value in headers:
            if name == b"content-type":
                content_type = value
            elif name not in _PLAIN_HEADERS:
                break
        else:
            if _COMPRESSIBLE_TYPES.get(content_type):
                headers.append(_VARY)
                return start
    return vary_on_encoding(start)[0]


async def _nothing() -> None:
    return None


class _GzipSend:
    """One response's `send`: holds its start until the first body message decides.

    It hands back the server's own awaitable when it passes a message on: most responses
    (small ones, or to clients that do not take gzip) only gain a `Vary` header here.
    """

    __slots__ = ("_compressor", "_gzip", "_level", "_send", "_start", "_threshold")

    def __init__(self, send: Send, gzip: bool, threshold: int, level: int) -> None:
        self._send: Callable[[Any], Awaitable[None]] = send
        self._gzip = gzip
        self._threshold = threshold
        self._level = level
        self._start: dict[str, Any] | None = None
        self._compressor: isal_zlib.Compress | None = None

    def __call__(self, asgi_message: Message) -> Awaitable[None]:
        message: Any = asgi_message
        if self._compressor is not None:
            return self._send(self._compress_chunk(message))
        if self._start is not None:
            return self._first_body(message)
        if message["type"] == "http.response.start":
            start = self._response_start(message)
            return _nothing() if start is None else self._send(start)
        return self._send(message)

    def _response_start(self, start: dict[str, Any]) -> dict[str, Any] | None:
        """The start message to send now, or None when it waits for the first body."""
        start, length = vary_on_encoding(start)
        if length is None or not self._gzip or (length.isdigit() and int(length) < self._threshold):
            return start
        self._start = start
        return None

    async def _first_body(self, message: dict[str, Any]) -> None:
        start = self._start
        assert start is not None
        self._start = None
        body: bytes = message.get("body", b"")
        more_body: bool = message.get("more_body", False)
        if message["type"] != "http.response.body" or (
            not more_body and len(body) < self._threshold
        ):  # e.g. `http.response.pathsend`: a file the server sends as it is
            await self._send(start)
            await self._send(message)
            return
        headers = [
            (name, value) for name, value in start["headers"] if name.lower() != b"content-length"
        ]
        headers.append((b"content-encoding", b"gzip"))
        if more_body:
            self._compressor = isal_zlib.compressobj(self._level, isal_zlib.DEFLATED, _GZIP_WBITS)
            await self._send({**start, "headers": headers})
            await self._send(self._compress_chunk(message))
            return
        compressed = isal_zlib.compress(body, self._level, _GZIP_WBITS)
        headers.append((b"content-length", str(len(compressed)).encode()))
        await self._send({**start, "headers": headers})
        await self._send({"type": "http.response.body", "body": compressed})

    def _compress_chunk(self, message: dict[str, Any]) -> dict[str, Any]:
        compressor = self._compressor
        if compressor is None or message["type"] != "http.response.body":
            return message
        more_body: bool = message.get("more_body", False)
        chunk = compressor.compress(message.get("body", b""))
        flush = isal_zlib.Z_SYNC_FLUSH if more_body else isal_zlib.Z_FINISH
        body: dict[str, Any] = {
            "type": "http.response.body",
            "body": chunk + compressor.flush(flush),
        }
        if more_body:
            body["more_body"] = True
        else:
            self._compressor = None
        return body
