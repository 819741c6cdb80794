"""A loopback Bitbucket Server: the REST 1.0 endpoints its URL reader uses.

Under `/rest/api/1.0/projects/{P}/repos/{r}`: `raw/{path}?at=` (ETag, 304 on
`If-None-Match`), `branches?filterText=`, `branches/default`, `default-branch`,
`archive?format=tgz&at=&prefix=&path=`. Private repositories answer 404 unless
`Authorization: Bearer <token>` (or `Basic` of a known user and password) covers the project;
an unknown token is 401.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from backstage_backend_test_utils.scm._asgi import FakeRequest, FakeResponse
from backstage_backend_test_utils.scm._common import ServerState, serve
from backstage_backend_test_utils.scm._repos import FakeRepository, blob_sha, make_tarball

__all__ = ["LoopbackBitbucketServer", "start_loopback_bitbucket_server"]


@dataclass
class LoopbackBitbucketServer(ServerState):
    """The loopback Bitbucket Server's data; `owner` of a repository is its project key."""

    repositories: dict[str, FakeRepository] = field(default_factory=dict)
    tokens: dict[str, set[str] | None] = field(default_factory=dict)
    """token (or `user:password`) -> project keys (upper case) it reads; None: all."""

    @property
    def api_base_url(self) -> str:
        return f"{self.base_url}/rest/api/1.0"

    def integration_config(self, **extra: Any) -> dict[str, Any]:
        """An `integrations.bitbucketServer[]` entry for this server."""
        return {"host": self.host, "apiBaseUrl": self.api_base_url, **extra}

    def add_repository(self, repository: FakeRepository) -> FakeRepository:
        self.repositories[f"{repository.owner}/{repository.name}".upper()] = repository
        return repository

    def browse_url(self, project: str, repo: str, path: str, ref: str | None = "main") -> str:
        at = f"?at={ref}" if ref else ""
        return f"{self.base_url}/projects/{project}/repos/{repo}/browse/{path}{at}"

    def _credential(self, request: FakeRequest) -> str | None:
        value = request.headers.get("authorization", "")
        scheme, _, secret = value.partition(" ")
        if scheme.lower() == "basic":
            try:
                return base64.b64decode(secret).decode()
            except ValueError:
                return "?"
        return secret if scheme.lower() == "bearer" else None

    def can_read(self, credential: str | None, repository: FakeRepository) -> bool:
        if not repository.private:
            return True
        if credential is None or credential not in self.tokens:
            return False
        projects = self.tokens[credential]
        return projects is None or repository.owner.upper() in projects


def _not_found() -> FakeResponse:
    return FakeResponse.json({"errors": [{"message": "Repository does not exist."}]}, 404)


async def _handle(state: LoopbackBitbucketServer, request: FakeRequest) -> FakeResponse:
    limited = state.record(request)
    if limited is not None:
        return limited
    segments = request.segments
    if segments[:4] != ["rest", "api", "1.0", "projects"]:
        return FakeResponse(404, b"Not Found")
    if len(segments) < 7 or segments[5] != "repos":
        return _not_found()
    credential = state._credential(request)
    if credential is not None and credential not in state.tokens:
        return FakeResponse.json({"errors": [{"message": "Authentication failed."}]}, 401)
    repository = state.repositories.get(f"{segments[4]}/{segments[6]}".upper())
    if repository is None or not state.can_read(credential, repository):
        return _not_found()
    action = segments[7:]
    at = (request.query.get("at") or repository.default_branch).removeprefix("refs/heads/")
    if action[:1] == ["raw"]:
        files = repository.files(at)
        path = "/".join(action[1:])
        if files is None or path not in files:
            return _not_found()
        body = FakeResponse(200, files[path], {"content-type": "text/plain"})
        return state.conditional(request, f'"{blob_sha(files[path])}"', body)
    if action == ["branches"]:
        wanted = request.query.get("filterText", "")
        values = [
            {"id": f"refs/heads/{b}", "displayId": b, "latestCommit": repository.commit_sha(b)}
            for b in repository.branches
            if wanted in b
        ]
        return FakeResponse.json({"values": values, "isLastPage": True})
    if action in (["branches", "default"], ["default-branch"]):
        branch = repository.default_branch
        return FakeResponse.json(
            {
                "id": f"refs/heads/{branch}",
                "displayId": branch,
                "latestCommit": repository.commit_sha(branch),
            }
        )
    if action == ["archive"]:
        files = repository.files(at)
        if files is None:
            return _not_found()
        top = request.query.get("prefix") or repository.name
        archive = make_tarball(top, files, request.query.get("path", ""))
        return FakeResponse(200, archive, {"content-type": "application/x-gzip"})
    return _not_found()


@asynccontextmanager
async def start_loopback_bitbucket_server(
    state: LoopbackBitbucketServer | None = None,
) -> AsyncIterator[LoopbackBitbucketServer]:
    """Serve a loopback Bitbucket Server on a free port of 127.0.0.1 until the block ends.

    Args:
        state: the data to serve; None: an empty server.
    """
    async with serve(state or LoopbackBitbucketServer(), _handle) as served:
        yield served
