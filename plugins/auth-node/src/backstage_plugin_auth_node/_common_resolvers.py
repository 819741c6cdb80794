"""The sign-in resolvers every provider offers, as Backstage names them.

- `emailMatchingUserEntityProfileEmail`: the user whose `spec.profile.email` is the
  profile's email; on no match, tried once more with a `+tag` removed from the local
  part. `allowedDomains` is accepted and, as in Backstage, not enforced.
- `emailLocalPartMatchingUserEntityName`: the user named like the email's local part
  (`user:default/<local part>`); `allowedDomains` refuses other domains.
- `emailMatchingUserEntityAnnotation`: the user whose annotation (option `annotation`,
  default `backstage.io/email`; Backstage's Google and Microsoft modules use
  `google.com/email` and `microsoft.com/email`) is the profile's email; the fallback
  user is named like the email's local part.

Each takes `dangerouslyAllowSignInWithoutUserInCatalog: true` to sign a person with no
user entity in as `user:default/<name>` (ownership: that ref alone).
"""

from __future__ import annotations

import re
from typing import Any

from backstage_common.config import Config
from backstage_common.errors import BackstageError, NotAllowedError, NotFoundError

from backstage_plugin_auth_node._resolvers import (
    AuthResolverCatalogUserQuery,
    AuthResolverContext,
    SignInInfo,
    SignInResolver,
    SignInResolverFactory,
)
from backstage_plugin_auth_node._types import BackstageSignInResult

__all__ = ["ProfileEmailMissingError", "common_sign_in_resolvers"]

_ALLOW_WITHOUT_USER = "dangerouslyAllowSignInWithoutUserInCatalog"
_EMAIL = re.compile(r"^([^@+]+)(\+[^@]+)?(@.*)$")
EMAIL_ANNOTATION = "backstage.io/email"


class ProfileEmailMissingError(BackstageError):
    """The provider's profile has no email: Backstage's plain `Error` (its name on the
    wire), answered 403 here rather than Backstage's 500."""

    status_code = 403

    def __init__(self) -> None:
        super().__init__("Login failed, user profile does not contain an email")

    @property
    def name(self) -> str:
        """The error name on the wire."""
        return "Error"


def _email(info: SignInInfo[Any]) -> str:
    if not info.profile.email:
        raise ProfileEmailMissingError()
    return info.profile.email


def _fallback(options: Config, name: str) -> dict[str, str] | None:
    allowed = options.get_optional_boolean(_ALLOW_WITHOUT_USER) is True
    return {"name": name} if allowed else None


def _profile_email(options: Config) -> SignInResolver[Any]:
    options.get_optional_string_array("allowedDomains")  # validated, not enforced (Backstage)
    options.get_optional_boolean(_ALLOW_WITHOUT_USER)

    async def resolve(info: SignInInfo[Any], ctx: AuthResolverContext) -> BackstageSignInResult:
        email = _email(info)
        try:
            return await ctx.sign_in_with_catalog_user(
                AuthResolverCatalogUserQuery(filter={"spec.profile.email": email})
            )
        except NotFoundError:
            match = _EMAIL.match(email)
            if match is None:
                raise
            untagged = match.group(1) + match.group(3)
            return await ctx.sign_in_with_catalog_user(
                AuthResolverCatalogUserQuery(filter={"spec.profile.email": untagged}),
                dangerous_entity_ref_fallback=_fallback(options, untagged),
            )

    return resolve


def _local_part(options: Config) -> SignInResolver[Any]:
    allowed_domains = options.get_optional_string_array("allowedDomains")
    options.get_optional_boolean(_ALLOW_WITHOUT_USER)

    async def resolve(info: SignInInfo[Any], ctx: AuthResolverContext) -> BackstageSignInResult:
        email = _email(info)
        local_part, _, domain = email.partition("@")
        if allowed_domains is not None and domain not in allowed_domains:
            raise NotAllowedError("Sign-in user email is not from an allowed domain")
        return await ctx.sign_in_with_catalog_user(
            AuthResolverCatalogUserQuery(entity_ref={"name": local_part}),
            dangerous_entity_ref_fallback=_fallback(options, local_part),
        )

    return resolve


def _email_annotation(options: Config) -> SignInResolver[Any]:
    annotation = options.get_optional_string("annotation") or EMAIL_ANNOTATION
    options.get_optional_boolean(_ALLOW_WITHOUT_USER)

    async def resolve(info: SignInInfo[Any], ctx: AuthResolverContext) -> BackstageSignInResult:
        email = _email(info)
        return await ctx.sign_in_with_catalog_user(
            AuthResolverCatalogUserQuery(annotations={annotation: email}),
            dangerous_entity_ref_fallback=_fallback(options, email.partition("@")[0]),
        )

    return resolve


common_sign_in_resolvers: dict[str, SignInResolverFactory[Any]] = {
    "emailMatchingUserEntityProfileEmail": SignInResolverFactory(
        create=_profile_email,
        option_keys=frozenset({"allowedDomains", _ALLOW_WITHOUT_USER}),
    ),
    "emailLocalPartMatchingUserEntityName": SignInResolverFactory(
        create=_local_part,
        option_keys=frozenset({"allowedDomains", _ALLOW_WITHOUT_USER}),
    ),
    "emailMatchingUserEntityAnnotation": SignInResolverFactory(
        create=_email_annotation, option_keys=frozenset({"annotation", _ALLOW_WITHOUT_USER})
    ),
}
"""The resolvers every provider offers, by their Backstage names."""
