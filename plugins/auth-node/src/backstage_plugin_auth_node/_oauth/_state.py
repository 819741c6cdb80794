"""The OAuth `state`: a form-encoded dict, UTF-8, lower-case hex, as Backstage writes it."""

from __future__ import annotations

import binascii
from collections.abc import Mapping
from urllib.parse import parse_qsl, urlencode

from backstage_common.errors import NotAllowedError

__all__ = ["decode_oauth_state", "encode_oauth_state"]

_ORDER = ("nonce", "env", "origin", "redirectUrl", "flow", "scope", "audience")


def encode_oauth_state(state: Mapping[str, str | None]) -> str:
    """Encode the fields Backstage puts in `state`, in its order, leaving out absent ones.

    Args:
        state: `nonce`, `env`, `origin`, `redirectUrl`, `flow`, `scope` (None: left out).
    """
    ordered = [key for key in _ORDER if key in state] + [k for k in state if k not in _ORDER]
    fields = [(key, state[key]) for key in ordered if state[key] is not None]
    return urlencode(fields).encode().hex()


def decode_oauth_state(encoded: str) -> dict[str, str]:
    """The state's fields; `env` and `nonce` must be present (`NotAllowedError` otherwise).

    Args:
        encoded: the `state` query parameter as the identity provider sent it back.
    """
    try:
        text = bytes.fromhex(encoded).decode()
    except (ValueError, UnicodeDecodeError, binascii.Error):
        text = ""
    state = dict(parse_qsl(text, keep_blank_values=True))
    if not state.get("env"):
        raise NotAllowedError("OAuth state is invalid, missing env")
    if not state.get("nonce"):
        raise NotAllowedError("OAuth state is invalid, missing nonce")
    return state
