"""A plugin's signing key pair: made on first use, rotated on schedule, public half stored.

The private key never leaves the process; each replica signs with its own pair and
publishes the public half through the plugin's shared key store, where it stays until
every token it may have signed has expired.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from backstage_backend_plugin_api import LoggerService
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from backstage_backend_defaults.auth._key_store import DatabaseKeyStore

__all__ = ["SIGNING_ALGORITHM", "PluginKeySource", "SigningKey"]

SIGNING_ALGORITHM = "ES256"
_KEEP_FACTOR = 3
"""As in Backstage, a public key is published three times as long as it signs."""
_CLOCK_MARGIN = timedelta(minutes=1)


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: ec.EllipticCurvePrivateKey = field(repr=False)
    use_until: datetime


class PluginKeySource:
    """Signing keys of one plugin in this process.

    A key is generated at the first token issuance, so a plugin that never calls another
    never opens its database for keys. It signs for `key_duration`; its public key is kept
    at least until `key_duration + token_lifetime` (plus a clock margin) have passed.
    """

    def __init__(
        self,
        store: DatabaseKeyStore,
        logger: LoggerService,
        *,
        key_duration: timedelta,
        token_lifetime: timedelta,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._store = store
        self._logger = logger
        self._key_duration = key_duration
        self._keep_for = max(
            key_duration * _KEEP_FACTOR, key_duration + token_lifetime + _CLOCK_MARGIN
        )
        self._clock = clock
        self._current: SigningKey | None = None
        self._lock = asyncio.Lock()

    async def signing_key(self) -> SigningKey:
        current = self._current
        if current is not None and current.use_until > self._clock():
            return current
        async with self._lock:  # one new key at a time, however many callers wait
            current = self._current
            if current is not None and current.use_until > self._clock():
                return current
            if current is not None:
                self._logger.info("Signing key has expired, generating new key")
            self._current = await self._new_key()
            return self._current

    async def _new_key(self) -> SigningKey:
        kid = str(uuid.uuid4())
        private_key = ec.generate_private_key(ec.SECP256R1())
        public_jwk: dict[str, Any] = ECAlgorithm.to_jwk(private_key.public_key(), as_dict=True)
        public_jwk.update({"kid": kid, "alg": SIGNING_ALGORITHM, "use": "sig"})
        now = self._clock()
        # the key may sign only once its public half is published
        await self._store.add_key(public_jwk, now + self._keep_for)
        self._logger.info(f"Created new signing key {kid}")
        return SigningKey(kid, private_key, now + self._key_duration)

    async def list_public_keys(self) -> list[dict[str, Any]]:
        return [stored.key for stored in await self._store.list_keys(self._clock())]
