"""One environment's GitHub settings, `auth.providers.github.<env>`.

Keys, as Backstage's `github` provider reads them: `clientId`, `clientSecret` (required),
`enterpriseInstanceUrl` (a GitHub Enterprise Server: its `/login/oauth/authorize`,
`/login/oauth/access_token` and `/api/v3/user`), and `callbackUrl`, `additionalScopes`,
`sessionDuration` and `signIn`, read by the generic flow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from backstage_common.config import Config
from backstage_common.errors import InputError

__all__ = ["GITHUB_COM", "GithubEndpoints", "GithubSettings", "read_github_settings"]


@dataclass(frozen=True)
class GithubEndpoints:
    """Where a GitHub instance authorises, issues tokens and describes the user.

    Args:
        authorize: the OAuth authorize page.
        token: the OAuth token endpoint.
        user: the REST API's authenticated-user endpoint.
    """

    authorize: str
    token: str
    user: str

    @classmethod
    def enterprise(cls, instance_url: str) -> GithubEndpoints:
        """A GitHub Enterprise Server at `instance_url` (`https://ghe.example.com`).

        Args:
            instance_url: the instance's base URL.
        """
        base = instance_url.rstrip("/")
        return cls(
            authorize=f"{base}/login/oauth/authorize",
            token=f"{base}/login/oauth/access_token",
            user=f"{base}/api/v3/user",
        )


GITHUB_COM: Final = GithubEndpoints(
    authorize="https://github.com/login/oauth/authorize",
    token="https://github.com/login/oauth/access_token",
    user="https://api.github.com/user",
)


@dataclass(frozen=True)
class GithubSettings:
    """What one environment of the `github` provider is configured with.

    Args:
        client_id: `clientId` of the OAuth App (or GitHub App).
        client_secret: `clientSecret`.
        endpoints: github.com's, or the Enterprise instance's.
    """

    client_id: str
    client_secret: str
    endpoints: GithubEndpoints = GITHUB_COM


def read_github_settings(config: Config) -> GithubSettings:
    """Read and check one environment's block; a bad value raises `InputError` naming it.

    Args:
        config: the environment's block, `auth.providers.github.<env>`.
    """
    endpoints = GITHUB_COM
    instance_url = config.get_optional_string("enterpriseInstanceUrl")
    if instance_url is not None:
        parts = urlsplit(instance_url)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
            raise InputError(
                f"Invalid '{config.full_key('enterpriseInstanceUrl')}': '{instance_url}' is "
                "not the base URL of a GitHub Enterprise instance"
            )
        endpoints = GithubEndpoints.enterprise(instance_url)
    return GithubSettings(
        client_id=config.get_string("clientId"),
        client_secret=config.get_string("clientSecret"),
        endpoints=endpoints,
    )
