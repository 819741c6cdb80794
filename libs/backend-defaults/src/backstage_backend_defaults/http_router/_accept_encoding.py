"""Content-coding negotiation: does a request's `Accept-Encoding` make gzip the choice?

As RFC 9110 (12.5.3) describes it and as Backstage's express `compression()` decides:
`gzip` (or `x-gzip`) with a quality above 0, or `*` when gzip is not named, accepts gzip;
`q=0` refuses it; and a client that names `identity` (or `*`) with a higher quality than
gzip's is answered without compression. No header at all, or one that names neither gzip
nor `*`, means identity.
"""

from __future__ import annotations

__all__ = ["prefers_gzip"]

_GZIP = ("gzip", "x-gzip")


def _quality(params: str) -> float:
    """The `q` parameter of one coding (1 without one); a malformed `q` refuses it."""
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() != "q":
            continue
        try:
            quality = float(value.strip())
        except ValueError:
            return 0.0
        return quality if 0.0 <= quality <= 1.0 else 0.0
    return 1.0


def prefers_gzip(header: str) -> bool:
    """True when gzip is acceptable and no more preferred than identity."""
    gzip: float | None = None
    identity: float | None = None
    anything: float | None = None
    for part in header.split(","):
        coding, _, params = part.partition(";")
        coding = coding.strip().lower()
        if not coding:
            continue
        quality = _quality(params) if params else 1.0
        if coding in _GZIP:
            gzip = quality if gzip is None else max(gzip, quality)
        elif coding == "identity":
            identity = quality
        elif coding == "*":
            anything = quality
    if gzip is None:
        gzip = anything or 0.0
    if identity is None:
        identity = anything
    return gzip > 0.0 and (identity is None or gzip >= identity)
