"""The host a URL names, refused when a browser and the fetcher could read it differently.

A URL is only read when its text has one reading: browsers follow the WHATWG URL standard
(which turns `\\` into `/`, drops tabs and newlines, decodes `%2e` in hosts, reads
`2130706433` and `0177.0.0.1` as `127.0.0.1`, maps Unicode hosts to punycode), while the
allow list and httpx parse as Python's `urllib` does. So every form where they may disagree
is refused outright, and the survivors are checked to give the same host and port under
both readings (ada, a WHATWG parser, against `urllib` and httpx).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import ada_url
import httpx
from backstage_common.errors import InputError

__all__ = ["FetchTarget", "has_dot_dot_segment", "parse_fetch_url"]

_UNSAFE_CHARACTER = re.compile(r"[\x00-\x20\x7f\\]")
_HOST_NAME = re.compile(r"^[a-z0-9_-]+(?:\.[a-z0-9_-]+)*$")
# WHATWG reads a host whose last label is a number (decimal, octal or hex) as an IPv4 address
_NUMERIC_LABEL = re.compile(r"^(?:[0-9]+|0x[0-9a-f]*)$")
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True, slots=True)
class FetchTarget:
    scheme: str
    host: str
    """Lower case; an IPv6 address in brackets."""
    port: int
    path: str
    """As sent, not decoded; `/` when empty."""

    @property
    def authority(self) -> str:
        """`host`, with `:port` when the port is not the scheme's default."""
        if self.port == _DEFAULT_PORTS[self.scheme]:
            return self.host
        return f"{self.host}:{self.port}"


def _refuse(url: str, reason: str) -> InputError:
    shown = url if len(url) <= 200 else url[:200] + "..."
    return InputError(f"The URL {shown!r} is refused, {reason}")


def _host(url: str, hostname: str, bracketed: bool) -> str:
    if bracketed:
        if "%" in hostname or "." in hostname:
            raise _refuse(url, "an IPv6 host may not carry a zone or an embedded IPv4 address")
        try:
            address = ipaddress.IPv6Address(hostname)
        except ValueError:
            raise _refuse(url, "its IPv6 host is not valid") from None
        if address.ipv4_mapped is not None or address.sixtofour or address.teredo:
            raise _refuse(url, "an IPv6 host may not stand for an IPv4 address")
        return f"[{address.compressed}]"
    if not _HOST_NAME.match(hostname):
        raise _refuse(
            url,
            "its host must be plain ASCII letters, digits, '-', '_' and dots "
            "(punycode for international names, no percent-encoding, no trailing dot)",
        )
    if _NUMERIC_LABEL.match(hostname.rsplit(".", 1)[-1]):
        try:
            canonical = str(ipaddress.IPv4Address(hostname))
        except ValueError:
            canonical = ""
        if canonical != hostname:
            raise _refuse(url, "an IPv4 host must be written as four decimal numbers")
    return hostname


def _cross_check(url: str, target: FetchTarget) -> None:
    """The host and port that a browser (WHATWG) and httpx read must be ours."""
    try:
        whatwg = ada_url.URL(url)
        fetched = httpx.URL(url)
    except (ValueError, httpx.InvalidURL):
        raise _refuse(url, "it is not a valid URL") from None
    whatwg_port = int(whatwg.port) if whatwg.port else _DEFAULT_PORTS[target.scheme]
    raw_host = fetched.raw_host.decode("ascii", "replace").lower()
    fetched_host = f"[{raw_host}]" if ":" in raw_host else raw_host
    fetched_port = fetched.port or _DEFAULT_PORTS[target.scheme]
    readings = {(whatwg.hostname, whatwg_port), (fetched_host, fetched_port)}
    if readings != {(target.host, target.port)}:
        raise _refuse(url, "its host reads differently to a browser and to the fetcher")


def parse_fetch_url(url: str) -> FetchTarget:
    """Where an http(s) URL makes the fetcher connect; `InputError` for any URL that is not
    http(s) or whose host is ambiguous: backslashes, control characters or spaces, user
    info, a missing or extra `//`, percent-encoded, non-ASCII or numeric host forms other
    than a dotted-quad IPv4, IPv6 hosts standing for IPv4 ones, or a host or port that a
    WHATWG parser and httpx read differently."""
    if _UNSAFE_CHARACTER.search(url):
        raise _refuse(url, "it holds a backslash, a space or a control character")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise _refuse(url, "it is not a valid URL") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise _refuse(url, "only http and https URLs are read")
    after_scheme = url[len(parts.scheme) + 1 :]
    if not after_scheme.startswith("//") or after_scheme.startswith("///"):
        raise _refuse(url, "it must be written scheme://host/...")
    if "@" in parts.netloc:
        raise _refuse(url, "it may not carry user info ('@' before the host)")
    hostname = parts.hostname or ""
    if not hostname:
        raise _refuse(url, "it names no host")
    host = _host(url, hostname.lower(), parts.netloc.startswith("["))
    port = _DEFAULT_PORTS[scheme] if port is None else port
    target = FetchTarget(scheme, host, port, parts.path or "/")
    _cross_check(url, target)
    return target


def has_dot_dot_segment(path: str) -> bool:
    """True when `path` climbs out of a directory, percent-encoded or not."""
    return ".." in unquote(path).split("/")
