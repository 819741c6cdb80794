"""Encryption of the refresh cookie's value.

AES-256-GCM (the `cryptography` package) with a key derived by HKDF-SHA256 from
`auth.session.secret`; the cookie's name is the associated data, so one provider's cookie
is never accepted as another's. A value that does not open (tampered, another secret, a
plain token) is treated as no session.
"""

from __future__ import annotations

import base64
import binascii
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = ["CookieSealer"]

_PREFIX = "v1."
_NONCE_BYTES = 12


class CookieSealer:
    """Seals and opens cookie values with a key derived from the session secret."""

    def __init__(self, secret: str) -> None:
        if not secret:
            raise ValueError("The session secret must not be empty")
        key = HKDF(
            algorithm=hashes.SHA256(),
            length=32,
            salt=None,
            info=b"backstage auth refresh cookie v1",
        ).derive(secret.encode())
        self._aead = AESGCM(key)

    def seal(self, name: str, value: str) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, value.encode(), name.encode())
        return _PREFIX + base64.urlsafe_b64encode(nonce + sealed).rstrip(b"=").decode()

    def open(self, name: str, value: str) -> str | None:
        if not value.startswith(_PREFIX):
            return None
        body = value[len(_PREFIX) :]
        try:
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            opened = self._aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], name.encode())
            return opened.decode()
        except (InvalidTag, ValueError, binascii.Error, UnicodeDecodeError):
            return None
