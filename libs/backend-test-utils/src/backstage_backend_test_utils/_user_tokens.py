"""Real user tokens for tests, from a stand-in for the auth backend's key endpoints.

`TestUserTokens` signs ES256 user tokens (`typ: vnd.backstage.user`, `sub`, `ent`, `uip`)
as Backstage's auth backend does, and its `plugin()` is a plugin `auth` that publishes the
public key at `/.well-known/jwks.json` and answers `GET /v1/userinfo`. Together with the
real `auth_service_factory` / `http_auth_service_factory`, a test backend then verifies
these tokens exactly as a deployed one verifies the auth backend's, including tokens that
plugins forward on a user's behalf (the limited form, cut with the `uip` proof).
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

import jwt
from backstage_backend_plugin_api import (
    BackendPlugin,
    PluginRegistrationPoints,
    create_backend_plugin,
)
from backstage_backend_plugin_api import core_services as core
from backstage_common.errors import AuthenticationError
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm
from litestar import Request, get

__all__ = ["TestUserTokens"]


def _b64(data: dict[str, Any]) -> str:
    # compact JSON in insertion order: the bytes the core re-creates for the limited form
    raw = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class TestUserTokens:
    """Issues user tokens for tests and serves their keys as plugin `auth`.

    Args:
        issuer: the `iss` claim of the tokens.
    """

    __test__ = False  # not a pytest test class

    def __init__(self, issuer: str = "http://localhost/api/auth") -> None:
        self._issuer = issuer
        self._key = ec.generate_private_key(ec.SECP256R1())
        self._kid = str(uuid.uuid4())
        self._algorithm = ECAlgorithm(ECAlgorithm.SHA256)
        self._ownership: dict[str, list[str]] = {}

    def _sign(self, header: dict[str, Any], payload: dict[str, Any]) -> str:
        signing_input = f"{_b64(header)}.{_b64(payload)}"
        signature = self._algorithm.sign(signing_input.encode(), self._key)
        return f"{signing_input}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"

    def token(
        self,
        user_entity_ref: str,
        ownership_entity_refs: list[str] | None = None,
        *,
        lifetime_seconds: int = 3600,
        include_ent: bool = True,
        issued_at: int | None = None,
    ) -> str:
        """A signed user token.

        Args:
            user_entity_ref: the `sub` claim, e.g. `user:default/jane`.
            ownership_entity_refs: the `ent` claim; default: the user ref alone.
            lifetime_seconds: seconds from `iat` to `exp` (negative `issued_at` offsets
                make expired tokens).
            include_ent: whether the token carries `ent` (else only `/v1/userinfo` has it).
            issued_at: the `iat` claim; default: now.
        """
        ent = ownership_entity_refs if ownership_entity_refs is not None else [user_entity_ref]
        self._ownership[user_entity_ref] = list(ent)
        iat = int(time.time()) if issued_at is None else issued_at
        exp = iat + lifetime_seconds
        limited_header = {"typ": "vnd.backstage.limited-user", "alg": "ES256", "kid": self._kid}
        limited = self._sign(limited_header, {"sub": user_entity_ref, "iat": iat, "exp": exp})
        payload: dict[str, Any] = {"iss": self._issuer, "sub": user_entity_ref}
        if include_ent:
            payload["ent"] = list(ent)
        payload.update(
            {"aud": "backstage", "iat": iat, "exp": exp, "uip": limited.rsplit(".", 1)[1]}
        )
        header = {"typ": "vnd.backstage.user", "alg": "ES256", "kid": self._kid}
        return self._sign(header, payload)

    def header(
        self, user_entity_ref: str, ownership_entity_refs: list[str] | None = None
    ) -> dict[str, str]:
        """An `Authorization` header with a fresh token.

        Args:
            user_entity_ref: the user.
            ownership_entity_refs: its ownership refs.
        """
        return {"authorization": f"Bearer {self.token(user_entity_ref, ownership_entity_refs)}"}

    def jwks(self) -> dict[str, Any]:
        """The public key set, as the auth backend publishes it."""
        jwk = json.loads(self._algorithm.to_jwk(self._key.public_key()))
        return {"keys": [{**jwk, "kid": self._kid, "alg": "ES256", "use": "sig"}]}

    def _userinfo(self, token: str) -> dict[str, Any]:
        try:
            claims = jwt.decode(
                token,
                self._key.public_key(),
                algorithms=["ES256"],
                options={"verify_aud": False},
            )
        except jwt.PyJWTError:
            raise AuthenticationError("Invalid token") from None
        sub = claims["sub"]
        return {"claims": {"sub": sub, "ent": self._ownership.get(sub, [sub])}}

    def plugin(self) -> BackendPlugin:
        """Plugin `auth` serving `/.well-known/jwks.json` and `/v1/userinfo`."""
        tokens = self

        def register(env: PluginRegistrationPoints) -> None:
            async def init(router: core.HttpRouter) -> None:
                @get("/.well-known/jwks.json")
                async def jwks() -> dict[str, Any]:
                    return tokens.jwks()

                @get("/v1/userinfo")
                async def userinfo(request: Request[Any, Any, Any]) -> dict[str, Any]:
                    authorization = request.headers.get("authorization", "")
                    scheme, _, token = authorization.partition(" ")
                    if scheme.lower() != "bearer" or not token:
                        raise AuthenticationError("Missing credentials")
                    return tokens._userinfo(token)

                router.use(jwks, userinfo)
                router.add_auth_policy(path="/", allow="unauthenticated")

            env.register_init(init)

        return create_backend_plugin(plugin_id="auth", register=register)
