"""`integrations.azure[]` (Azure DevOps) and its repository URLs.

Keys: `host` (default `dev.azure.com`), `credentials[]`: `{personalAccessToken,
organizations?}` (sent as `Basic base64(":" + pat)`). A credential names the organisations it
serves; at most one has none (the host-wide one). The removed keys `token` and `credential`
are refused, as Backstage refuses them. Entra ID credentials (`clientId`, ...) are refused
with a clear error: this backend reads Azure DevOps with personal access tokens only.
URLs: `https://<host>/<org>/<project>/_git/<repo>?path=<p>&version=GB<branch>|GT<tag>`, and
`https://<host>/<org>/_git/<repo>` (the project named as the repository).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

from backstage_common.config import Config
from backstage_common.errors import InputError

from backstage_integration._config import check_host
from backstage_integration._urls import decode_file_path

__all__ = [
    "AZURE_HOST",
    "AzureCredential",
    "AzureIntegrationConfig",
    "AzureUrl",
    "parse_azure_url",
    "read_azure_integration_config",
]

AZURE_HOST = "dev.azure.com"
_ENTRA_KEYS = frozenset(
    {"clientId", "clientSecret", "tenantId", "clientCertificate", "managedIdentityClientId"}
)


@dataclass(frozen=True, slots=True)
class AzureCredential:
    """A personal access token and the organisations it serves (None: every one).

    Args:
        personal_access_token: the token.
        organizations: the organisations it serves; None for the host-wide credential.
    """

    personal_access_token: str
    organizations: tuple[str, ...] | None = None

    def __repr__(self) -> str:
        return f"AzureCredential(organizations={self.organizations!r})"

    @property
    def headers(self) -> dict[str, str]:
        """`Authorization: Basic base64(":" + pat)`."""
        encoded = base64.b64encode(f":{self.personal_access_token}".encode()).decode()
        return {"Authorization": f"Basic {encoded}"}


@dataclass(frozen=True, slots=True)
class AzureIntegrationConfig:
    """An Azure DevOps host.

    Args:
        host: `dev.azure.com` or an Azure DevOps Server host.
        credentials: its personal access tokens.
    """

    host: str
    credentials: tuple[AzureCredential, ...] = ()

    def credential_for(self, organization: str) -> AzureCredential | None:
        """The credential serving `organization`, else the host-wide one, else None.

        Args:
            organization: the URL's organisation (or collection).
        """
        for credential in self.credentials:
            if credential.organizations and organization.lower() in credential.organizations:
                return credential
        return next((c for c in self.credentials if c.organizations is None), None)


def _read_credential(config: Config) -> AzureCredential:
    keys = set(config.keys())
    if keys & _ENTRA_KEYS:
        raise InputError(
            f"Unsupported credential at {config.full_key('')}: only personalAccessToken "
            "credentials are supported"
        )
    unknown = keys - {"personalAccessToken", "organizations"}
    if unknown or "personalAccessToken" not in keys:
        raise InputError(f"{config.full_key('')} is not a valid credential")
    organizations = config.get_optional_string_array("organizations")
    return AzureCredential(
        config.get_string("personalAccessToken").strip(),
        tuple(o.lower() for o in organizations) if organizations else None,
    )


def read_azure_integration_config(config: Config) -> AzureIntegrationConfig:
    """One `integrations.azure[]` entry; `InputError` naming the key when invalid.

    Args:
        config: the entry.
    """
    for removed in ("token", "credential"):
        if config.has(removed):
            raise InputError(
                f"{config.full_key(removed)} is no longer supported, use credentials instead"
            )
    host = check_host(config, config.get_optional_string("host") or AZURE_HOST)
    credentials = tuple(
        _read_credential(entry) for entry in config.get_optional_config_array("credentials") or []
    )
    if sum(1 for c in credentials if c.organizations is None) > 1:
        raise InputError(
            f"{config.full_key('credentials')}: only one credential may have no organizations"
        )
    seen: set[str] = set()
    for credential in credentials:
        for organization in credential.organizations or ():
            if organization in seen:
                raise InputError(
                    f"{config.full_key('credentials')}: organization {organization} is "
                    "listed by more than one credential"
                )
            seen.add(organization)
    return AzureIntegrationConfig(host, credentials)


@dataclass(frozen=True, slots=True)
class AzureUrl:
    """An Azure DevOps repository URL, split.

    Args:
        origin: `scheme://host[:port]`.
        organization: the organisation (or collection).
        project: the project.
        repo: the repository.
        path: the decoded `path` query value without leading `/`, `""` for the root.
        ref: the branch or tag, or None for the default branch.
        ref_type: `branch` or `tag`.
    """

    origin: str
    organization: str
    project: str
    repo: str
    path: str
    ref: str | None
    ref_type: str = "branch"

    def file_url(self, path: str) -> str:
        """The web URL of `path` in this repository at this ref."""
        version = ""
        if self.ref is not None:
            version = f"&version={'GB' if self.ref_type == 'branch' else 'GT'}{self.ref}"
        return (
            f"{self.origin}/{self.organization}/{self.project}/_git/{self.repo}"
            f"?path=/{path}{version}"
        )


def parse_azure_url(url: str) -> AzureUrl:
    """Split an Azure DevOps repository URL.

    Args:
        url: `https://<host>/<org>/<project>/_git/<repo>?path=<p>&version=GB<branch>`.

    Raises:
        InputError: the URL has no `_git/<repo>`, a `version` that is neither `GB` nor
            `GT`, or a traversing path.
    """
    parts = urlsplit(url)
    segments = [unquote(s) for s in parts.path.split("/") if s]
    if parts.scheme not in ("http", "https") or "_git" not in segments:
        raise InputError(f"Invalid Azure DevOps URL {url!r}, expected /<org>/<project>/_git/<repo>")
    index = segments.index("_git")
    if index not in (1, 2) or len(segments) != index + 2:
        raise InputError(f"Invalid Azure DevOps URL {url!r}, expected /<org>/<project>/_git/<repo>")
    organization = segments[0]
    repo = segments[index + 1]
    project = segments[1] if index == 2 else repo
    query = parse_qs(parts.query)
    versions = query.get("version")
    version = versions[-1] if versions else None
    ref, ref_type = None, "branch"
    if version is not None:
        if version[:2] not in ("GB", "GT") or len(version) < 3:
            raise InputError(f"Invalid Azure DevOps URL {url!r}, version must start GB or GT")
        ref, ref_type = version[2:], "branch" if version.startswith("GB") else "tag"
    path = decode_file_path((query.get("path") or [""])[-1])
    return AzureUrl(
        f"{parts.scheme}://{parts.netloc}", organization, project, repo, path, ref, ref_type
    )
