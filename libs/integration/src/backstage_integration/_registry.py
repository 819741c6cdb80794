"""`ScmIntegrations`: every configured integration, found by the host of a URL.

github.com and gitlab.com are added when no entry names them, so their public
repositories are readable with no config at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar
from urllib.parse import urljoin, urlsplit

from backstage_common.config import Config

from backstage_integration._azure import (
    AZURE_HOST,
    AzureIntegrationConfig,
    read_azure_integration_config,
)
from backstage_integration._bitbucket_server import (
    BitbucketServerIntegrationConfig,
    read_bitbucket_server_integration_config,
)
from backstage_integration._config import (
    GITHUB_API_BASE_URL,
    GITHUB_HOST,
    GITHUB_RAW_BASE_URL,
    GITLAB_API_BASE_URL,
    GITLAB_HOST,
    GithubIntegrationConfig,
    GitlabIntegrationConfig,
    read_github_integration_config,
    read_gitlab_integration_config,
)
from backstage_integration._urls import parse_github_url, parse_gitlab_url

__all__ = ["IntegrationGroup", "ScmIntegrations"]


class _HasHost(Protocol):
    @property
    def host(self) -> str: ...


T = TypeVar("T", bound=_HasHost)


def _host_of(url: str) -> str | None:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if not parts.hostname:
        return None
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return parts.hostname if port is None or port == default else f"{parts.hostname}:{port}"


@dataclass(frozen=True, slots=True)
class IntegrationGroup(Generic[T]):
    """The entries of one integration type, in config order.

    Args:
        entries: the integrations.
    """

    entries: tuple[T, ...]

    def by_host(self, host: str) -> T | None:
        """The first entry for `host` (with `:port` when not the default one), or None.

        Args:
            host: the host to look up.
        """
        host = host.lower()
        return next((entry for entry in self.entries if entry.host == host), None)

    def by_url(self, url: str) -> T | None:
        """The first entry whose host is `url`'s host, or None.

        Args:
            url: an absolute URL.
        """
        host = _host_of(url)
        return None if host is None else self.by_host(host)


@dataclass(frozen=True, slots=True)
class ScmIntegrations:
    """The `integrations` config: GitHub, GitLab and Bitbucket Server entries.

    Args:
        github: the GitHub integrations (github.com included).
        gitlab: the GitLab integrations (gitlab.com included).
        bitbucket_server: the Bitbucket Server integrations (none by default).
        azure: the Azure DevOps integrations (dev.azure.com included).
    """

    github: IntegrationGroup[GithubIntegrationConfig]
    gitlab: IntegrationGroup[GitlabIntegrationConfig]
    bitbucket_server: IntegrationGroup[BitbucketServerIntegrationConfig] = IntegrationGroup(())
    azure: IntegrationGroup[AzureIntegrationConfig] = IntegrationGroup(())

    @classmethod
    def from_config(cls, config: Config) -> ScmIntegrations:
        """Read `integrations.github[]`, `integrations.gitlab[]`,
        `integrations.bitbucketServer[]` and `integrations.azure[]`.

        Args:
            config: the root config.

        Raises:
            InputError: an entry is invalid; the message names its key.
        """
        github = [
            read_github_integration_config(entry)
            for entry in config.get_optional_config_array("integrations.github") or []
        ]
        if not any(entry.host == GITHUB_HOST for entry in github):
            github.append(
                GithubIntegrationConfig(GITHUB_HOST, GITHUB_API_BASE_URL, GITHUB_RAW_BASE_URL)
            )
        gitlab = [
            read_gitlab_integration_config(entry)
            for entry in config.get_optional_config_array("integrations.gitlab") or []
        ]
        if not any(entry.host == GITLAB_HOST for entry in gitlab):
            gitlab.append(
                GitlabIntegrationConfig(GITLAB_HOST, GITLAB_API_BASE_URL, f"https://{GITLAB_HOST}")
            )
        bitbucket_server = [
            read_bitbucket_server_integration_config(entry)
            for entry in config.get_optional_config_array("integrations.bitbucketServer") or []
        ]
        azure = [
            read_azure_integration_config(entry)
            for entry in config.get_optional_config_array("integrations.azure") or []
        ]
        if not any(entry.host == AZURE_HOST for entry in azure):
            azure.append(AzureIntegrationConfig(AZURE_HOST))
        return cls(
            IntegrationGroup(tuple(github)),
            IntegrationGroup(tuple(gitlab)),
            IntegrationGroup(tuple(bitbucket_server)),
            IntegrationGroup(tuple(azure)),
        )

    def by_url(
        self, url: str
    ) -> (
        AzureIntegrationConfig
        | BitbucketServerIntegrationConfig
        | GithubIntegrationConfig
        | GitlabIntegrationConfig
        | None
    ):
        """The integration reading `url` (in Backstage's order: Azure, Bitbucket Server,
        GitHub, GitLab).

        Args:
            url: an absolute URL.
        """
        return (
            self.azure.by_url(url)
            or self.bitbucket_server.by_url(url)
            or self.github.by_url(url)
            or self.gitlab.by_url(url)
        )

    def resolve_url(self, url: str, base: str) -> str:
        """`url` (absolute, `/`-rooted in the repository, or relative) resolved against the
        file URL `base`; a GitHub result points at `/tree/` as Backstage's does.

        Args:
            url: the reference found in a file.
            base: the URL of the file it was found in.
        """
        if urlsplit(url).scheme:
            return url
        integration = self.by_url(base)
        resolved = urljoin(base, url)
        if url.startswith("/") and isinstance(
            integration, GithubIntegrationConfig | GitlabIntegrationConfig
        ):
            resolved = _resolve_rooted(url, base, integration)
        if isinstance(integration, GithubIntegrationConfig):
            resolved = resolved.replace("/blob/", "/tree/", 1).replace("/edit/", "/tree/", 1)
        return resolved


def _resolve_rooted(
    url: str, base: str, integration: GithubIntegrationConfig | GitlabIntegrationConfig
) -> str:
    if isinstance(integration, GithubIntegrationConfig):
        parsed = parse_github_url(base)
        return f"{parsed.prefix}{url}"
    gitlab = parse_gitlab_url(base, integration.base_url)
    return f"{gitlab.project_url}/-/{gitlab.kind or 'blob'}/{gitlab.ref}{url}"
