"""What a sign-in produces: the profile, the provider session and the Backstage identity."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

__all__ = [
    "BackstageIdentityResponse",
    "BackstageSignInResult",
    "BackstageUserIdentity",
    "OAuthAuthenticatorResult",
    "OAuthSession",
    "ProfileInfo",
]

TProfile = TypeVar("TProfile")


@dataclass(frozen=True)
class ProfileInfo:
    """What the app shows of the signed-in person (`{email, picture, displayName}`).

    Args:
        email: the person's email address, when the provider vouches for it.
        picture: a URL of the person's picture.
        display_name: the name to show.
    """

    email: str | None = None
    picture: str | None = None
    display_name: str | None = None

    def to_json(self) -> dict[str, str]:
        """The wire form: absent fields are left out."""
        body = {"email": self.email, "picture": self.picture, "displayName": self.display_name}
        return {key: value for key, value in body.items() if value is not None}


@dataclass(frozen=True)
class OAuthSession:
    """The provider's tokens after a sign-in or a refresh.

    Args:
        access_token: the provider's access token.
        token_type: its type, usually `bearer`.
        scope: the granted scope, space separated.
        expires_in_seconds: the access token's lifetime, when the provider says.
        id_token: the OpenID Connect ID token, if any.
        refresh_token: the provider's refresh token, if any; the framework keeps it in the
            provider's encrypted refresh cookie.
        refresh_token_expires_in_seconds: the refresh token's lifetime, when known.
    """

    access_token: str
    token_type: str
    scope: str
    expires_in_seconds: int | None = None
    id_token: str | None = None
    refresh_token: str | None = None
    refresh_token_expires_in_seconds: int | None = None


@dataclass(frozen=True)
class OAuthAuthenticatorResult(Generic[TProfile]):
    """What an authenticator hands back from `authenticate` and `refresh`.

    Args:
        full_profile: the provider's own profile object (a passport-style profile for
            GitHub, the userinfo claims for OIDC, ...), read by profile transforms and
            sign-in resolvers.
        session: the provider's tokens.
    """

    full_profile: TProfile
    session: OAuthSession


@dataclass(frozen=True)
class BackstageUserIdentity:
    """`identity` of a sign-in response.

    Args:
        user_entity_ref: the signed-in user's entity ref (`user:default/jane`).
        ownership_entity_refs: the refs the user owns through (the user and its groups).
    """

    user_entity_ref: str
    ownership_entity_refs: Sequence[str]

    def to_json(self) -> dict[str, Any]:
        """The wire form (`{type: "user", userEntityRef, ownershipEntityRefs}`)."""
        return {
            "type": "user",
            "userEntityRef": self.user_entity_ref,
            "ownershipEntityRefs": list(self.ownership_entity_refs),
        }


@dataclass(frozen=True)
class BackstageSignInResult:
    """A signed Backstage user token, as a resolver returns it.

    Args:
        token: the user token (a JWT, `typ: vnd.backstage.user`).
        identity: who it stands for; the framework reads it from the token when absent.
    """

    token: str
    identity: BackstageUserIdentity | None = None


@dataclass(frozen=True)
class BackstageIdentityResponse:
    """`backstageIdentity` of a sign-in response.

    Args:
        token: the user token.
        identity: who it stands for.
        expires_in_seconds: how long the token is valid from now.
    """

    token: str
    identity: BackstageUserIdentity
    expires_in_seconds: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The wire form (`{token, identity, expiresInSeconds?}`)."""
        body: dict[str, Any] = {"token": self.token, "identity": self.identity.to_json()}
        if self.expires_in_seconds is not None:
            body["expiresInSeconds"] = self.expires_in_seconds
        return body
