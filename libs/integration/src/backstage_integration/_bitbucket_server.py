"""`integrations.bitbucketServer[]` and Bitbucket Server's web URLs.

Keys: `host` (required), `apiBaseUrl` (default `https://<host>/rest/api/1.0`), `token`
(sent as `Bearer`), else `username` and `password` (sent as `Basic`).
URLs: `https://<host>/projects/<P>/repos/<r>/(browse|raw|src)[/<path>][?at=<ref>]`.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

from backstage_common.config import Config
from backstage_common.errors import InputError

from backstage_integration._config import check_host, check_url
from backstage_integration._urls import decode_file_path

__all__ = [
    "BitbucketServerIntegrationConfig",
    "BitbucketServerUrl",
    "parse_bitbucket_server_url",
    "read_bitbucket_server_integration_config",
]


@dataclass(frozen=True, slots=True)
class BitbucketServerIntegrationConfig:
    """A Bitbucket Server (Data Center) host.

    Args:
        host: the web host, with `:port` when not the default one.
        api_base_url: the REST API's base (`https://<host>/rest/api/1.0`).
        token: a personal access token, sent as `Bearer`.
        username: with `password`, sent as `Basic` when there is no token.
        password: the user's password or app password.
    """

    host: str
    api_base_url: str
    token: str | None = None
    username: str | None = None
    password: str | None = None

    def __repr__(self) -> str:
        return f"BitbucketServerIntegrationConfig(host={self.host!r})"

    @property
    def headers(self) -> dict[str, str]:
        """The `Authorization` header for the configured credentials, if any."""
        if self.token:
            return {"Authorization": f"Bearer {self.token}"}
        if self.username and self.password:
            pair = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
            return {"Authorization": f"Basic {pair}"}
        return {}


def read_bitbucket_server_integration_config(config: Config) -> BitbucketServerIntegrationConfig:
    """One `integrations.bitbucketServer[]` entry; `InputError` naming the key when invalid.

    Args:
        config: the entry.
    """
    host = check_host(config, config.get_string("host"))
    api = check_url(config, "apiBaseUrl", config.get_optional_string("apiBaseUrl"))
    token = config.get_optional_string("token")
    return BitbucketServerIntegrationConfig(
        host,
        api or f"https://{host}/rest/api/1.0",
        token.strip() if token else None,
        config.get_optional_string("username"),
        config.get_optional_string("password"),
    )


@dataclass(frozen=True, slots=True)
class BitbucketServerUrl:
    """A Bitbucket Server repository URL, split.

    Args:
        origin: `scheme://host[:port]`.
        project: the project key.
        repo: the repository slug.
        ref: the `at` query value (`main`, `refs/heads/main`, a sha), or None.
        path: the decoded file path (no leading `/`), `""` for the root.
    """

    origin: str
    project: str
    repo: str
    ref: str | None
    path: str

    @property
    def branch(self) -> str | None:
        """The ref without a `refs/heads/` prefix."""
        if self.ref is None:
            return None
        return self.ref.removeprefix("refs/heads/")

    def browse_url(self, path: str) -> str:
        """The web URL of `path` in this repository at this ref."""
        at = f"?at={self.ref}" if self.ref else ""
        return f"{self.origin}/projects/{self.project}/repos/{self.repo}/browse/{path}{at}"


def parse_bitbucket_server_url(url: str) -> BitbucketServerUrl:
    """Split a Bitbucket Server web URL.

    Args:
        url: `https://<host>/projects/<P>/repos/<r>/browse/<path>?at=<ref>`.

    Raises:
        InputError: the URL is not of that form, or its path traverses.
    """
    parts = urlsplit(url)
    segments = [unquote(s) for s in parts.path.split("/") if s]
    if (
        parts.scheme not in ("http", "https")
        or len(segments) < 4
        or segments[0] != "projects"
        or segments[2] != "repos"
        or (len(segments) > 4 and segments[4] not in ("browse", "raw", "src"))
    ):
        raise InputError(
            f"Invalid Bitbucket Server URL {url!r}, expected "
            "/projects/<project>/repos/<repo>/browse/<path>?at=<ref>"
        )
    at = parse_qs(parts.query).get("at")
    raw_path = "/".join(parts.path.split("/")[6:]) if len(segments) > 4 else ""
    return BitbucketServerUrl(
        f"{parts.scheme}://{parts.netloc}",
        segments[1],
        segments[3],
        at[-1] if at else None,
        decode_file_path(raw_path),
    )
