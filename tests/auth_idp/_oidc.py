"""A real OpenID Provider on loopback: panva's `oidc-provider` (certified by the OpenID
Foundation), run by `oidc/server.mjs` with Node.

`start_oidc_idp(clients)` generates the IdP's RS256 signing key here (so tests can also
sign tokens with it, to build ID tokens that are validly signed yet wrong), starts the
server on a free port of 127.0.0.1 with the given clients and the test account `jane`
(`jane@example.com`, `email_verified: true`), and stops it when the block ends. Its login
and consent forms are oidc-provider's development interactions.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backstage_backend_test_utils import npm_ci
from joserfc import jwt
from joserfc.jwk import RSAKey

__all__ = [
    "JANE",
    "OidcClient",
    "OidcIdp",
    "install_oidc_idp",
    "new_signing_key",
    "start_oidc_idp",
]

HERE = Path(__file__).parent / "oidc"
JANE: dict[str, Any] = {
    "email": "jane@example.com",
    "email_verified": True,
    "name": "Jane Doe",
    "picture": "https://pictures.example.com/jane.png",
}
_START_TIMEOUT = 60.0


def install_oidc_idp() -> None:
    """`npm ci` from the committed lock file."""
    npm_ci(HERE, "run the oidc-provider identity provider")


def new_signing_key(kid: str | None = None) -> RSAKey:
    """A fresh RS256 key pair (2048 bits) with a key id."""
    return RSAKey.generate_key(
        2048,
        parameters={"kid": kid or secrets.token_hex(8), "alg": "RS256", "use": "sig"},
        private=True,
    )


@dataclass(frozen=True)
class OidcClient:
    """A client registered at the IdP."""

    client_id: str
    client_secret: str
    redirect_uris: Sequence[str]
    token_endpoint_auth_method: str = "client_secret_basic"

    def metadata(self) -> dict[str, Any]:
        return {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "redirect_uris": list(self.redirect_uris),
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": self.token_endpoint_auth_method,
        }


@dataclass
class OidcIdp:
    """A running oidc-provider: its issuer and the key it signs ID tokens with."""

    issuer: str
    signing_key: RSAKey
    log: Path
    process: asyncio.subprocess.Process = field(repr=False)

    @property
    def metadata_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    def sign(
        self,
        claims: Mapping[str, Any],
        *,
        key: RSAKey | None = None,
        header: Mapping[str, Any] | None = None,
    ) -> str:
        """An ID token with `claims`, signed with the IdP's key (or `key`)."""
        signer = key or self.signing_key
        protected = {"alg": "RS256", "kid": signer.kid, **(header or {})}
        return jwt.encode(protected, dict(claims), signer, algorithms=[protected["alg"]])

    def id_token_claims(self, **overrides: Any) -> dict[str, Any]:
        """Claims of a valid-looking ID token for `jane` (audience and nonce to be set)."""
        now = int(time.time())
        return {"iss": self.issuer, "sub": "jane", "iat": now, "exp": now + 300, **overrides}

    def tail(self, lines: int = 40) -> str:
        text = (
            self.log.read_text(errors="replace").splitlines()[-lines:] if self.log.exists() else []
        )
        return "--- oidc-provider output ---\n" + "\n".join(text)


def _log_tail(log: Path, lines: int = 40) -> str:
    if not log.exists():
        return ""
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


async def _read_issuer(process: asyncio.subprocess.Process, log: Path) -> str:
    assert process.stdout is not None
    try:
        line = await asyncio.wait_for(process.stdout.readline(), _START_TIMEOUT)
    except TimeoutError:
        raise AssertionError(f"oidc-provider did not start\n{_log_tail(log)}") from None
    if not line:
        await process.wait()
        raise AssertionError(f"oidc-provider exited with {process.returncode}\n{_log_tail(log)}")
    issuer: str = json.loads(line)["issuer"]
    return issuer


@asynccontextmanager
async def start_oidc_idp(
    clients: Sequence[OidcClient],
    *,
    log_dir: Path,
    accounts: Mapping[str, Mapping[str, Any]] | None = None,
) -> AsyncIterator[OidcIdp]:
    """Run oidc-provider with `clients` and `accounts` (default: `jane`) until the block ends."""
    key = new_signing_key("idp-signing-key")
    settings = {
        "clients": [client.metadata() for client in clients],
        "jwks": {"keys": [key.as_dict(private=True)]},
        "accounts": dict(accounts) if accounts is not None else {"jane": JANE},
        "cookieKeys": [secrets.token_hex(16)],
    }
    log = log_dir / "oidc-provider.log"
    with log.open("ab") as errors:
        process = await asyncio.create_subprocess_exec(
            "node",
            str(HERE / "server.mjs"),
            cwd=HERE,
            env={**os.environ, "OIDC_IDP_CONFIG": json.dumps(settings)},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=errors,
        )
    try:
        issuer = await _read_issuer(process, log)
        yield OidcIdp(issuer=issuer, signing_key=key, log=log, process=process)
    finally:
        if process.returncode is None:
            process.terminate()
            with suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), 10)
        if process.returncode is None:
            process.kill()
            await process.wait()
