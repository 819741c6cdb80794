"""The auth plugin's settings, read from the root config.

Development: Backstage asks `NODE_ENV`; here the backend is in development when
`BACKSTAGE_ENV` (the variable that also selects `app-config.<env>.yaml`) names
`development`, or, when `BACKSTAGE_ENV` is not set, when the config says
`backend.environment: development` (the repository's `app-config.yaml` does).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from backstage_common.config import Config
from backstage_common.durations import read_optional_duration
from backstage_common.errors import InputError

__all__ = ["AuthSettings", "is_development", "read_auth_settings"]

TOKEN_EXPIRATION_DEFAULT = 3600
TOKEN_EXPIRATION_MIN = 600
TOKEN_EXPIRATION_MAX = 86400
ALGORITHMS = frozenset(
    {"ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "EdDSA"}
)


@dataclass(frozen=True)
class AuthSettings:
    app_url: str
    token_expiration_seconds: int
    algorithm: str
    omit_ownership_claim: bool
    session_secret: str | None
    extra_allowed_origins: tuple[str, ...]
    is_development: bool


def is_development(config: Config, env: Mapping[str, str]) -> bool:
    """Whether the backend runs in development (see the module docstring).

    Args:
        config: the root config (`backend.environment`).
        env: the process environment (`BACKSTAGE_ENV`).
    """
    names = env.get("BACKSTAGE_ENV")
    if names is not None and names.strip():
        return "development" in {name.strip() for name in names.split(",")}
    return config.get_optional_string("backend.environment") == "development"


def read_token_expiration(config: Config) -> int:
    """`auth.backstageTokenExpiration` in seconds: default an hour, clamped to 10 min-24 h.

    Args:
        config: the root config.
    """
    duration = read_optional_duration(config, "auth.backstageTokenExpiration")
    if duration is None:
        return TOKEN_EXPIRATION_DEFAULT
    seconds = round(duration.total_seconds())
    return min(max(seconds, TOKEN_EXPIRATION_MIN), TOKEN_EXPIRATION_MAX)


def read_auth_settings(config: Config, env: Mapping[str, str] | None = None) -> AuthSettings:
    algorithm = config.get_optional_string("auth.identityTokenAlgorithm") or "ES256"
    if algorithm not in ALGORITHMS:
        raise InputError(
            f"auth.identityTokenAlgorithm must be one of {', '.join(sorted(ALGORITHMS))}, "
            f"got '{algorithm}'"
        )
    # Backstage omits `ent` by default; the tokens issued here carry it unless told not to
    omit = config.get_optional_boolean("auth.omitIdentityTokenOwnershipClaim") is True
    return AuthSettings(
        # the app is usually served by this backend itself (the app plugin)
        app_url=config.get_optional_string("app.baseUrl") or config.get_string("backend.baseUrl"),
        token_expiration_seconds=read_token_expiration(config),
        algorithm=algorithm,
        omit_ownership_claim=omit,
        session_secret=config.get_optional_string("auth.session.secret") or None,
        extra_allowed_origins=tuple(
            config.get_optional_string_array("auth.experimentalExtraAllowedOrigins") or ()
        ),
        is_development=is_development(config, os.environ if env is None else env),
    )
