"""Mock credentials and the mock token grammar, after Backstage's `mockCredentials`.

Tokens carry no cryptography: `mock-user-token`, `mock-user-token:{"sub": ...}`,
`mock-limited-user-token:{"sub": ...}`, `mock-service-token`,
`mock-service-token:{"sub", "target", "obo"}` and `mock-none-token`; the `mock-invalid-*`
tokens and anything else are refused by the mock auth service.
"""

from __future__ import annotations

import json
import re
from typing import Any

from backstage_backend_plugin_api import (
    BackstageCredentials,
    BackstageNonePrincipal,
    BackstageServicePrincipal,
    BackstageUserPrincipal,
)

__all__ = [
    "DEFAULT_MOCK_SERVICE_SUBJECT",
    "DEFAULT_MOCK_USER_ENTITY_REF",
    "MOCK_AUTH_COOKIE",
    "MOCK_INVALID_LIMITED_USER_TOKEN",
    "MOCK_INVALID_SERVICE_TOKEN",
    "MOCK_INVALID_USER_TOKEN",
    "MOCK_LIMITED_USER_TOKEN_PREFIX",
    "MOCK_NONE_TOKEN",
    "MOCK_SERVICE_TOKEN",
    "MOCK_SERVICE_TOKEN_PREFIX",
    "MOCK_USER_TOKEN",
    "MOCK_USER_TOKEN_PREFIX",
    "encode_payload",
    "mock_credentials",
]

DEFAULT_MOCK_USER_ENTITY_REF = "user:default/mock"
DEFAULT_MOCK_SERVICE_SUBJECT = "external:test-service"

MOCK_AUTH_COOKIE = "backstage-auth"
MOCK_NONE_TOKEN = "mock-none-token"
MOCK_USER_TOKEN = "mock-user-token"
MOCK_USER_TOKEN_PREFIX = "mock-user-token:"
MOCK_INVALID_USER_TOKEN = "mock-invalid-user-token"
MOCK_LIMITED_USER_TOKEN_PREFIX = "mock-limited-user-token:"
MOCK_INVALID_LIMITED_USER_TOKEN = "mock-invalid-limited-user-token"
MOCK_SERVICE_TOKEN = "mock-service-token"
MOCK_SERVICE_TOKEN_PREFIX = "mock-service-token:"
MOCK_INVALID_SERVICE_TOKEN = "mock-invalid-service-token"

_ENTITY_REF = re.compile(r"^.+:.+/.+$")

Headers = dict[str, str]


def encode_payload(payload: dict[str, Any]) -> str:
    """JSON as `JSON.stringify` writes it: compact, keys in order, unset keys left out."""
    return json.dumps(
        {key: value for key, value in payload.items() if value is not None},
        separators=(",", ":"),
    )


def _validate_user_entity_ref(ref: str) -> str:
    if not _ENTITY_REF.match(ref):
        raise ValueError(
            f"Invalid user entity reference '{ref}', expected <kind>:<namespace>/<name>"
        )
    return ref


def _bearer(token: str) -> Headers:
    return {"Authorization": f"Bearer {token}"}


class mock_credentials:
    """Credentials, tokens and `Authorization` headers that the mock auth services accept."""

    def __init__(self) -> None:
        raise TypeError("mock_credentials is a namespace; call its static methods")

    @staticmethod
    def none() -> BackstageCredentials[BackstageNonePrincipal]:
        """Credentials of an unauthenticated caller."""
        return BackstageCredentials(BackstageNonePrincipal())

    @staticmethod
    def none_header() -> Headers:
        """A header the mock http auth reads as no credentials, whatever its default is."""
        return _bearer(MOCK_NONE_TOKEN)

    @staticmethod
    def user(
        ref: str = DEFAULT_MOCK_USER_ENTITY_REF, *, actor: str | None = None
    ) -> BackstageCredentials[BackstageUserPrincipal]:
        """Credentials of the user `ref`; `actor` is the subject of a service acting for it."""
        _validate_user_entity_ref(ref)
        principal = BackstageUserPrincipal(
            ref, actor=BackstageServicePrincipal(actor) if actor is not None else None
        )
        token = mock_credentials.user_token(None if ref == DEFAULT_MOCK_USER_ENTITY_REF else ref)
        return BackstageCredentials(principal, token=token)

    @staticmethod
    def user_token(ref: str | None = None, *, actor: str | None = None) -> str:
        """`mock-user-token`, or `mock-user-token:{"sub": ref}` when a ref is given."""
        if ref is None and actor is None:
            return MOCK_USER_TOKEN
        sub = _validate_user_entity_ref(ref or DEFAULT_MOCK_USER_ENTITY_REF)
        payload: dict[str, Any] = {"sub": sub}
        if actor is not None:
            payload["actor"] = {"subject": actor}
        return MOCK_USER_TOKEN_PREFIX + encode_payload(payload)

    @staticmethod
    def user_header(ref: str | None = None, *, actor: str | None = None) -> Headers:
        return _bearer(mock_credentials.user_token(ref, actor=actor))

    @staticmethod
    def invalid_user_header() -> Headers:
        return _bearer(MOCK_INVALID_USER_TOKEN)

    @staticmethod
    def limited_user_token(ref: str = DEFAULT_MOCK_USER_ENTITY_REF) -> str:
        """A limited user token, accepted only where limited access is allowed (cookies)."""
        return MOCK_LIMITED_USER_TOKEN_PREFIX + encode_payload(
            {"sub": _validate_user_entity_ref(ref)}
        )

    @staticmethod
    def limited_user_cookie(ref: str = DEFAULT_MOCK_USER_ENTITY_REF) -> dict[str, str]:
        """Cookies for an httpx request: `{"backstage-auth": <limited user token>}`."""
        return {MOCK_AUTH_COOKIE: mock_credentials.limited_user_token(ref)}

    @staticmethod
    def service(
        subject: str = DEFAULT_MOCK_SERVICE_SUBJECT,
    ) -> BackstageCredentials[BackstageServicePrincipal]:
        """Credentials of the service `subject` (`plugin:<id>` for plugins)."""
        return BackstageCredentials(BackstageServicePrincipal(subject))

    @staticmethod
    def service_token(
        subject: str | None = None, target: str | None = None, *, obo: str | None = None
    ) -> str:
        """`mock-service-token`, or `mock-service-token:{"sub", "obo", "target"}`.

        A token with a `target` is accepted only by that plugin.
        """
        if subject is None and target is None and obo is None:
            return MOCK_SERVICE_TOKEN
        return MOCK_SERVICE_TOKEN_PREFIX + encode_payload(
            {"sub": subject, "obo": obo, "target": target}
        )

    @staticmethod
    def service_header(
        subject: str | None = None, target: str | None = None, *, obo: str | None = None
    ) -> Headers:
        return _bearer(mock_credentials.service_token(subject, target, obo=obo))

    @staticmethod
    def invalid_service_header() -> Headers:
        return _bearer(MOCK_INVALID_SERVICE_TOKEN)
