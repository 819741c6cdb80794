"""`signIn.resolvers` config: resolvers tried in order until one finds the person."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from backstage_common.config import Config
from backstage_common.errors import BackstageError, InputError, NotFoundError

from backstage_plugin_auth_node._resolvers import (
    AuthResolverContext,
    SignInInfo,
    SignInResolver,
    SignInResolverFactory,
)
from backstage_plugin_auth_node._types import BackstageSignInResult

__all__ = ["SignInResolutionError", "read_declarative_sign_in_resolver"]


class SignInResolutionError(BackstageError):
    """No configured resolver found the person: Backstage's plain `Error` (its name on the
    wire), answered 403 here rather than Backstage's 500, since nothing is broken."""

    status_code = 403

    def __init__(self) -> None:
        super().__init__(
            "Failed to sign-in, unable to resolve user identity. Please verify that your "
            "catalog contains the expected User entities that would match your configured "
            "sign-in resolver."
        )

    @property
    def name(self) -> str:
        """The error name on the wire."""
        return "Error"


def read_declarative_sign_in_resolver(
    config: Config, factories: Mapping[str, SignInResolverFactory[Any]]
) -> SignInResolver[Any] | None:
    """The resolver chain `signIn.resolvers` configures, or None when it configures none.

    Args:
        config: the provider environment's config block.
        factories: the resolvers the provider offers, by name.
    """
    resolvers: list[SignInResolver[Any]] = []
    for entry in config.get_optional_config_array("signIn.resolvers") or []:
        name = entry.get_string("resolver")
        factory = factories.get(name)
        if factory is None:
            raise InputError(f"Sign-in resolver '{name}' is not available")
        unknown = sorted(set(entry.keys()) - {"resolver"} - factory.option_keys)
        if unknown:
            raise InputError(
                f"Sign-in resolver '{name}' does not accept the option(s) "
                f"{', '.join(repr(key) for key in unknown)} ({entry.full_key(unknown[0])})"
            )
        resolvers.append(factory.create(entry))
    if not resolvers:
        return None

    async def resolve(info: SignInInfo[Any], context: AuthResolverContext) -> BackstageSignInResult:
        for resolver in resolvers:
            try:
                return await resolver(info, context)
            except NotFoundError:
                continue
        raise SignInResolutionError()

    return resolve
