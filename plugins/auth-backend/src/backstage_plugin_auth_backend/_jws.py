"""Compact JWS signing with PyJWT's algorithms over bytes we serialise ourselves.

The user token's `uip` claim is the signature of a limited token that any backend
rebuilds from the full token's claims, so the header and payload must be exactly
`JSON.stringify`'s output (compact, keys in order, non-ASCII unescaped); PyJWT's own
`encode` serialises differently, so only its signing algorithms are used here.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from jwt.algorithms import get_default_algorithms

__all__ = ["b64url", "compact_json", "sign_compact"]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def compact_json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def sign_compact(header: dict[str, Any], payload: dict[str, Any], key: Any) -> tuple[str, str]:
    """The compact JWS of `payload` and its signature alone (both base64url)."""
    algorithm = get_default_algorithms()[header["alg"]]
    signing_input = f"{b64url(compact_json(header))}.{b64url(compact_json(payload))}"
    signature = b64url(algorithm.sign(signing_input.encode(), key))
    return f"{signing_input}.{signature}", signature
