"""A loopback Azure DevOps: the Git REST endpoints (6.0) its URL reader uses.

`/{org}/{project}/_apis/git/repositories/{repo}/items?path=` (the file's bytes),
`.../items?recursionLevel=full&download=true[&scopePath=]` (a zip; with a scope path its
entries sit under the scope's last segment), `.../commits?searchCriteria.itemVersion...`.
A repository's `owner` is `<org>/<project>`. Private repositories answer 203 (Azure DevOps'
sign-in page) without credentials; an unknown personal access token is 401.
"""

from __future__ import annotations

import base64
import io
import zipfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from backstage_backend_test_utils.scm._asgi import FakeRequest, FakeResponse
from backstage_backend_test_utils.scm._common import ServerState, serve
from backstage_backend_test_utils.scm._repos import FakeRepository

__all__ = ["LoopbackAzureDevOps", "start_loopback_azure_devops"]


@dataclass
class LoopbackAzureDevOps(ServerState):
    """The loopback Azure DevOps' data; change it while the server runs."""

    repositories: dict[str, FakeRepository] = field(default_factory=dict)
    tokens: dict[str, set[str] | None] = field(default_factory=dict)
    """personal access token -> organisations (lower case) it reads; None: all."""

    def integration_config(self, **extra: Any) -> dict[str, Any]:
        """An `integrations.azure[]` entry for this server."""
        return {"host": self.host, **extra}

    def add_repository(self, repository: FakeRepository) -> FakeRepository:
        self.repositories[f"{repository.owner}/{repository.name}".lower()] = repository
        return repository

    def file_url(self, owner: str, repo: str, path: str, branch: str | None = "main") -> str:
        version = f"&version=GB{branch}" if branch else ""
        return f"{self.base_url}/{owner}/_git/{repo}?path=/{path}{version}"

    def _token(self, request: FakeRequest) -> str | None:
        scheme, _, secret = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            return base64.b64decode(secret).decode().split(":", 1)[-1]
        except ValueError:
            return "?"


def _zip(files: dict[str, bytes], scope: str) -> bytes:
    buffer = io.BytesIO()
    top = scope.rsplit("/", 1)[-1]
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(files):
            if scope and not path.startswith(scope + "/"):
                continue
            name = f"{top}/{path[len(scope) + 1 :]}" if scope else path
            archive.writestr(name, files[path])
    return buffer.getvalue()


def _refusal(
    state: LoopbackAzureDevOps, repository: FakeRepository, token: str | None, organization: str
) -> FakeResponse | None:
    if not repository.private:
        return None
    if token is None:
        return FakeResponse(203, b"<html>Sign in</html>", {"content-type": "text/html"})
    allowed = state.tokens.get(token, set())
    if allowed is not None and organization not in allowed:
        return FakeResponse.json({"message": "TF401019: repository not found"}, 404)
    return None


async def _handle(state: LoopbackAzureDevOps, request: FakeRequest) -> FakeResponse:
    limited = state.record(request)
    if limited is not None:
        return limited
    segments = request.segments
    if len(segments) != 7 or segments[2:5] != ["_apis", "git", "repositories"]:
        return FakeResponse(404, b"Not Found")
    organization = segments[0].lower()
    token = state._token(request)
    if token is not None and token not in state.tokens:
        return FakeResponse(401, b"Unauthorized")
    repository = state.repositories.get(f"{segments[0]}/{segments[1]}/{segments[5]}".lower())
    if repository is None:
        return FakeResponse.json({"message": "TF401019: repository not found"}, 404)
    refused = _refusal(state, repository, token, organization)
    if refused is not None:
        return refused
    query = request.query
    ref = query.get("versionDescriptor.version") or query.get("searchCriteria.itemVersion.version")
    files = repository.files(ref or repository.default_branch)
    if files is None:
        return FakeResponse.json({"message": "TF401175: version not found"}, 404)
    if segments[6] == "commits":
        sha = repository.commit_sha(ref or repository.default_branch)
        return FakeResponse.json({"count": 1, "value": [{"commitId": sha}]})
    if segments[6] != "items":
        return FakeResponse(404, b"Not Found")
    if query.get("download") == "true":
        scope = query.get("scopePath", "").strip("/")
        return FakeResponse(200, _zip(files, scope), {"content-type": "application/zip"})
    path = query.get("path", "").strip("/")
    if path not in files:
        return FakeResponse.json({"message": "TF401174: item not found"}, 404)
    return FakeResponse(200, files[path], {"content-type": "application/octet-stream"})


@asynccontextmanager
async def start_loopback_azure_devops(
    state: LoopbackAzureDevOps | None = None,
) -> AsyncIterator[LoopbackAzureDevOps]:
    """Serve a loopback Azure DevOps on a free port of 127.0.0.1 until the block ends.

    Args:
        state: the data to serve; None: an empty server.
    """
    async with serve(state or LoopbackAzureDevOps(), _handle) as azure:
        yield azure
