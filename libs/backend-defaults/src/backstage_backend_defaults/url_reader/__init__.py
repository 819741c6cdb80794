"""core.urlReader: GitHub, GitLab, Bitbucket Server, Azure DevOps and allow-listed HTTP(S)
reading for every plugin.

Reads `integrations.github[]`, `integrations.gitlab[]`, `integrations.bitbucketServer[]`,
`integrations.azure[]` (through `backstage_integration`)
and `backend.reading.allow[]`. One HTTP client (httpx) per backend, closed at shutdown,
and one rate-limit gate per host shared by every plugin; GitHub App installation tokens are
kept in each plugin's `core.cache`, so a plugin's replicas share them.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from backstage_backend_plugin_api import core_services as core
from backstage_backend_plugin_api import create_service_factory
from backstage_common.errors import InputError
from backstage_common.tls import client_ssl_context
from backstage_integration import GithubCredentialsProvider, ReadingAllowList, ScmIntegrations

from backstage_backend_defaults.url_reader._azure import AzureUrlReader
from backstage_backend_defaults.url_reader._bitbucket_server import BitbucketServerUrlReader
from backstage_backend_defaults.url_reader._fetch import FetchUrlReader
from backstage_backend_defaults.url_reader._github import GithubUrlReader
from backstage_backend_defaults.url_reader._gitlab import GitlabUrlReader
from backstage_backend_defaults.url_reader._http import ReaderHttp
from backstage_backend_defaults.url_reader._service import DefaultUrlReader, HostReader

__all__ = [
    "AzureUrlReader",
    "BitbucketServerUrlReader",
    "DefaultUrlReader",
    "FetchUrlReader",
    "GithubUrlReader",
    "GitlabUrlReader",
    "ReaderHttp",
    "url_reader_service_factory",
]


@dataclass(frozen=True)
class _RootReading:
    integrations: ScmIntegrations
    http: ReaderHttp
    fetch: FetchUrlReader


def _create_root(
    config: core.RootConfig, logger: core.RootLogger, lifecycle: core.RootLifecycle
) -> _RootReading:
    integrations = ScmIntegrations.from_config(config)
    client = httpx.AsyncClient(verify=client_ssl_context(), timeout=60.0)

    async def close() -> None:
        await client.aclose()

    lifecycle.add_shutdown_hook(close)
    http = ReaderHttp(client, logger)
    # As in Backstage, a GitHub Enterprise entry without api or raw base URL stops the
    # backend from starting rather than failing every read.
    for integration in integrations.github.entries:
        if integration.api_base_url is None and integration.raw_base_url is None:
            raise InputError(
                f"GitHub integration for '{integration.host}' must configure an explicit "
                "apiBaseUrl or rawBaseUrl"
            )
    return _RootReading(
        integrations, http, FetchUrlReader(http, ReadingAllowList.from_config(config))
    )


def _for_plugin(root: _RootReading, cache: core.Cache) -> DefaultUrlReader:
    credentials = GithubCredentialsProvider(root.integrations.github, root.http.client, cache)
    readers: list[HostReader] = [
        GithubUrlReader(integration, credentials, root.http)
        for integration in root.integrations.github.entries
    ]
    readers += [GitlabUrlReader(entry, root.http) for entry in root.integrations.gitlab.entries]
    readers += [AzureUrlReader(entry, root.http) for entry in root.integrations.azure.entries]
    readers += [
        BitbucketServerUrlReader(entry, root.http)
        for entry in root.integrations.bitbucket_server.entries
    ]
    return DefaultUrlReader(readers, root.fetch)


url_reader_service_factory = create_service_factory(
    service=core.url_reader, factory=_for_plugin, create_root_context=_create_root
)
