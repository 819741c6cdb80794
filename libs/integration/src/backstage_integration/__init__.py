"""SCM integrations as Backstage configures them (`integrations.github[]`, `gitlab[]`,
`bitbucketServer[]`, `azure[]`).

Isomorphic: the config records, the registry that finds an integration by URL, URL parsing
per provider (refusing path traversal) and GitHub App credentials. The URL readers built on
them are the backend's `core.urlReader` service.
"""

from backstage_integration._azure import (
    AzureCredential,
    AzureIntegrationConfig,
    AzureUrl,
    parse_azure_url,
    read_azure_integration_config,
)
from backstage_integration._bitbucket_server import (
    BitbucketServerIntegrationConfig,
    BitbucketServerUrl,
    parse_bitbucket_server_url,
    read_bitbucket_server_integration_config,
)
from backstage_integration._config import (
    GithubAppConfig,
    GithubIntegrationConfig,
    GitlabIntegrationConfig,
    read_github_integration_config,
    read_gitlab_integration_config,
)
from backstage_integration._fetch_urls import FetchTarget, has_dot_dot_segment, parse_fetch_url
from backstage_integration._github_credentials import (
    GithubCredentials,
    GithubCredentialsProvider,
    TokenCache,
)
from backstage_integration._pages import github_pages
from backstage_integration._reading_allow import ReadingAllowList
from backstage_integration._registry import IntegrationGroup, ScmIntegrations
from backstage_integration._urls import (
    GithubUrl,
    GitlabUrl,
    decode_file_path,
    parse_github_url,
    parse_gitlab_url,
)

__all__ = [
    "AzureCredential",
    "AzureIntegrationConfig",
    "AzureUrl",
    "BitbucketServerIntegrationConfig",
    "BitbucketServerUrl",
    "FetchTarget",
    "GithubAppConfig",
    "GithubCredentials",
    "GithubCredentialsProvider",
    "GithubIntegrationConfig",
    "GithubUrl",
    "GitlabIntegrationConfig",
    "GitlabUrl",
    "IntegrationGroup",
    "ReadingAllowList",
    "ScmIntegrations",
    "TokenCache",
    "decode_file_path",
    "github_pages",
    "has_dot_dot_segment",
    "parse_azure_url",
    "parse_bitbucket_server_url",
    "parse_fetch_url",
    "parse_github_url",
    "parse_gitlab_url",
    "read_azure_integration_config",
    "read_bitbucket_server_integration_config",
    "read_github_integration_config",
    "read_gitlab_integration_config",
]
