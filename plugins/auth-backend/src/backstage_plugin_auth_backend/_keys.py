"""User-token signing keys: made and rotated by each replica, published from the
plugin's database (`signing_keys`) so that every replica's tokens verify anywhere.

As Backstage's `TokenFactory` with its database key store: an instance makes its key
pair on first use and again once the token lifetime has passed since; only the public
JWK is stored; the JWKS lists every stored key younger than three token lifetimes and
removes older ones.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from backstage_backend_plugin_api import DatabaseService, LoggerService
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import get_default_algorithms

from backstage_plugin_auth_backend._tables import as_utc, signing_keys

__all__ = ["SigningKey", "SigningKeys"]

Clock = Callable[[], datetime]

_CURVES: dict[str, ec.EllipticCurve] = {
    "ES256": ec.SECP256R1(),
    "ES384": ec.SECP384R1(),
    "ES512": ec.SECP521R1(),
}


@dataclass(frozen=True)
class SigningKey:
    kid: str
    algorithm: str
    private_key: Any
    expires_at: datetime


def _generate(algorithm: str) -> tuple[Any, dict[str, Any]]:
    private: Any
    if algorithm in _CURVES:
        private = ec.generate_private_key(_CURVES[algorithm])
    elif algorithm == "EdDSA":
        private = ed25519.Ed25519PrivateKey.generate()
    else:
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = get_default_algorithms()[algorithm].to_jwk(private.public_key(), as_dict=True)
    return private, dict(jwk)


def _now() -> datetime:
    return datetime.now(UTC)


class SigningKeys:
    """This replica's current signing key, and the published keys of all replicas."""

    def __init__(
        self,
        database: DatabaseService,
        logger: LoggerService,
        *,
        algorithm: str,
        key_duration_seconds: int,
        clock: Clock = _now,
    ) -> None:
        self._database = database
        self._logger = logger
        self._algorithm = algorithm
        self._duration = timedelta(seconds=key_duration_seconds)
        self._clock = clock
        self._current: SigningKey | None = None
        self._lock = asyncio.Lock()

    async def current(self) -> SigningKey:
        """The key to sign with now; a new one once the current has served its time."""
        key = self._current
        if key is not None and key.expires_at > self._clock():
            return key
        async with self._lock:
            key = self._current
            if key is not None and key.expires_at > self._clock():
                return key
            if key is not None:
                self._logger.info("Signing key has expired, generating new key")
            key = await self._create()
            self._current = key
            return key

    async def _create(self) -> SigningKey:
        private, public = await asyncio.to_thread(_generate, self._algorithm)
        kid = str(uuid.uuid4())
        public.update(kid=kid, alg=self._algorithm)
        now = self._clock()
        async with self._database.transaction() as connection:
            await connection.execute(
                signing_keys.insert().values(kid=kid, key=json.dumps(public), created_at=now)
            )
        self._logger.info(f"Created new signing key {kid}")
        return SigningKey(kid, self._algorithm, private, now + self._duration)

    async def public_keys(self) -> list[dict[str, Any]]:
        """Every replica's keys that may have signed a token still valid."""
        engine = await self._database.get_engine()
        async with engine.connect() as connection:
            rows = (await connection.execute(sa.select(signing_keys))).all()
        oldest = self._clock() - 3 * self._duration
        valid: list[dict[str, Any]] = []
        expired: list[str] = []
        for row in rows:
            if as_utc(row.created_at) < oldest:
                expired.append(row.kid)
            else:
                valid.append(json.loads(row.key))
        if expired:
            await self._remove(expired)
        return valid

    async def _remove(self, kids: list[str]) -> None:
        listed = "', '".join(kids)
        self._logger.info(f"Removing expired signing keys, '{listed}'")
        try:
            async with self._database.transaction() as connection:
                await connection.execute(signing_keys.delete().where(signing_keys.c.kid.in_(kids)))
        except Exception as error:  # another replica may be removing them too; never fatal
            self._logger.warn("Failed to remove expired signing keys", error)
