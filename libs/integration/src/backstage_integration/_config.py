"""`integrations.github[]` and `integrations.gitlab[]`: one frozen record per entry.

Reads Backstage's keys: `host`, `apiBaseUrl`, `rawBaseUrl`, `token`, `apps[]` (`appId`,
`privateKey`, `clientId`, `clientSecret`, `webhookSecret`, `allowedInstallationOwners`,
`publicAccess`) for GitHub; `host`, `apiBaseUrl`, `baseUrl`, `token` for GitLab.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from backstage_common.config import Config
from backstage_common.errors import InputError

__all__ = [
    "GithubAppConfig",
    "GithubIntegrationConfig",
    "GitlabIntegrationConfig",
    "read_github_integration_config",
    "read_gitlab_integration_config",
]

GITHUB_HOST = "github.com"
GITHUB_API_BASE_URL = "https://api.github.com"
GITHUB_RAW_BASE_URL = "https://raw.githubusercontent.com"
GITLAB_HOST = "gitlab.com"
GITLAB_API_BASE_URL = "https://gitlab.com/api/v4"


@dataclass(frozen=True, slots=True)
class GithubAppConfig:
    """One GitHub App of a GitHub integration.

    Args:
        app_id: the App's numeric id (the JWT's `iss`).
        private_key: the App's PEM private key, signing RS256 JWTs.
        client_id: the App's OAuth client id.
        client_secret: the App's OAuth client secret.
        webhook_secret: the secret webhook signatures are checked with, if any.
        allowed_installation_owners: owners (lower case) whose installations may be used;
            None admits every installation.
        public_access: whether the App's first installation reads repositories of owners
            that did not install it.
    """

    app_id: int
    private_key: str
    client_id: str
    client_secret: str
    webhook_secret: str | None = None
    allowed_installation_owners: tuple[str, ...] | None = None
    public_access: bool = False

    def __repr__(self) -> str:
        # Keeps the key and secrets out of logs and tracebacks.
        return f"GithubAppConfig(app_id={self.app_id})"


@dataclass(frozen=True, slots=True)
class GithubIntegrationConfig:
    """A GitHub host (github.com or an Enterprise server).

    Args:
        host: the web host, with `:port` when not the default one.
        api_base_url: the REST API's base (`https://api.github.com`, `https://<host>/api/v3`).
        raw_base_url: the raw file host's base (`https://raw.githubusercontent.com`).
        token: a personal access token used when no App yields one.
        apps: the GitHub Apps installed on the host's organisations.
    """

    host: str
    api_base_url: str | None = None
    raw_base_url: str | None = None
    token: str | None = None
    apps: tuple[GithubAppConfig, ...] = ()

    def __repr__(self) -> str:
        return f"GithubIntegrationConfig(host={self.host!r}, api_base_url={self.api_base_url!r})"


@dataclass(frozen=True, slots=True)
class GitlabIntegrationConfig:
    """A GitLab host (gitlab.com or self-hosted, possibly under a sub-path).

    Args:
        host: the web host, with `:port` when not the default one.
        api_base_url: the REST API's base (`https://gitlab.com/api/v4`).
        base_url: the instance's web base; its path is the sub-path the instance is served at.
        token: the token sent as `Authorization: Bearer`.
    """

    host: str
    api_base_url: str
    base_url: str
    token: str | None = None

    def __repr__(self) -> str:
        return f"GitlabIntegrationConfig(host={self.host!r}, api_base_url={self.api_base_url!r})"


def check_host(config: Config, host: str) -> str:
    parts = urlsplit(f"https://{host}")
    if not host or "/" in host or "@" in host or parts.hostname is None:
        raise InputError(
            f"Invalid host {host!r} at {config.full_key('host')}: "
            "a host name, with an optional :port"
        )
    return host.lower()


def check_url(config: Config, key: str, value: str | None) -> str | None:
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InputError(f"Invalid URL {value!r} at {config.full_key(key)}")
    return value.rstrip("/")


def _read_app(config: Config) -> GithubAppConfig:
    owners = config.get_optional_string_array("allowedInstallationOwners")
    number = config.get_number("appId")
    if int(number) != number or number <= 0:
        raise InputError(f"Invalid appId {number!r} at {config.full_key('appId')}")
    return GithubAppConfig(
        app_id=int(number),
        private_key=config.get_string("privateKey").replace("\\n", "\n"),
        client_id=config.get_string("clientId"),
        client_secret=config.get_string("clientSecret"),
        webhook_secret=config.get_optional_string("webhookSecret"),
        allowed_installation_owners=(
            None if owners is None else tuple(owner.lower() for owner in owners)
        ),
        public_access=bool(config.get_optional_boolean("publicAccess")),
    )


def read_github_integration_config(config: Config) -> GithubIntegrationConfig:
    """One `integrations.github[]` entry; `InputError` naming the key when it is invalid.

    Args:
        config: the entry.
    """
    host = check_host(config, config.get_optional_string("host") or GITHUB_HOST)
    api = check_url(config, "apiBaseUrl", config.get_optional_string("apiBaseUrl"))
    raw = check_url(config, "rawBaseUrl", config.get_optional_string("rawBaseUrl"))
    if host == GITHUB_HOST:
        api = api or GITHUB_API_BASE_URL
        raw = raw or GITHUB_RAW_BASE_URL
    token = config.get_optional_string("token")
    apps = tuple(_read_app(app) for app in config.get_optional_config_array("apps") or [])
    return GithubIntegrationConfig(host, api, raw, token.strip() if token else None, apps)


def read_gitlab_integration_config(config: Config) -> GitlabIntegrationConfig:
    """One `integrations.gitlab[]` entry; `InputError` naming the key when it is invalid.

    Args:
        config: the entry.
    """
    host = check_host(config, config.get_string("host"))
    api = check_url(config, "apiBaseUrl", config.get_optional_string("apiBaseUrl"))
    base = check_url(config, "baseUrl", config.get_optional_string("baseUrl"))
    if host == GITLAB_HOST:
        api = api or GITLAB_API_BASE_URL
        base = f"https://{GITLAB_HOST}"
    elif api is None:
        raise InputError(
            f"Missing {config.full_key('apiBaseUrl')}: "
            "a GitLab host other than gitlab.com needs one"
        )
    token = config.get_optional_string("token")
    return GitlabIntegrationConfig(
        host, api, base or f"https://{host}", token.strip() if token else None
    )
