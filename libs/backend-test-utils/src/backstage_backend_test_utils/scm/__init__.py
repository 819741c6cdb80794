"""Loopback GitHub and GitLab servers for tests of integrations, URL readers and providers.

- `start_loopback_github_api(LoopbackGithub())`: GitHub's REST API (GHES form, `/api/v3`)
  and raw files, Apps with installations and tokens, ETags, `Link` pages, rate limits.
- `start_loopback_gitlab(LoopbackGitlab())`: GitLab's REST v4 API, optionally under a
  sub-path.
- `start_loopback_bitbucket_server(LoopbackBitbucketServer())`: Bitbucket Server's REST 1.0
  (raw files, branches, archives).
- `start_loopback_azure_devops(LoopbackAzureDevOps())`: Azure DevOps' Git items (files and
  zips) and commits.
- `FakeRepository`: a repository's branches and files, shared by both.
- `handlers` on either server: extra endpoints tried before the built-in ones, such as
  `github_graphql_handler(github, calls, orgs)`: GitHub's GraphQL for repository listings
  and organisations' members and teams (`FakeOrg`, `FakeTeam`, `FakeUser`), paged, and
  `gitlab_discovery_handler(gitlab, probes)`: GitLab's file probe (`HEAD .../files/<path>`)
  and group listing.
"""

from backstage_backend_test_utils.scm._asgi import FakeRequest, FakeResponse
from backstage_backend_test_utils.scm._azure import (
    LoopbackAzureDevOps,
    start_loopback_azure_devops,
)
from backstage_backend_test_utils.scm._bitbucket_server import (
    LoopbackBitbucketServer,
    start_loopback_bitbucket_server,
)
from backstage_backend_test_utils.scm._common import RateLimit
from backstage_backend_test_utils.scm._github import (
    FakeGithubApp,
    FakeGithubInstallation,
    LoopbackGithub,
    start_loopback_github_api,
)
from backstage_backend_test_utils.scm._github_graphql import (
    FakeOrg,
    FakeTeam,
    FakeUser,
    github_graphql_handler,
)
from backstage_backend_test_utils.scm._gitlab import LoopbackGitlab, start_loopback_gitlab
from backstage_backend_test_utils.scm._gitlab_discovery import gitlab_discovery_handler
from backstage_backend_test_utils.scm._repos import FakeRepository, blob_sha, make_tarball

__all__ = [
    "FakeGithubApp",
    "FakeGithubInstallation",
    "FakeOrg",
    "FakeRepository",
    "FakeRequest",
    "FakeResponse",
    "FakeTeam",
    "FakeUser",
    "LoopbackAzureDevOps",
    "LoopbackBitbucketServer",
    "LoopbackGithub",
    "LoopbackGitlab",
    "RateLimit",
    "blob_sha",
    "github_graphql_handler",
    "gitlab_discovery_handler",
    "make_tarball",
    "start_loopback_azure_devops",
    "start_loopback_bitbucket_server",
    "start_loopback_github_api",
    "start_loopback_gitlab",
]
