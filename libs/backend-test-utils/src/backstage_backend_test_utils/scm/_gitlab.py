"""A loopback GitLab: the REST v4 endpoints the URL reader and discovery use.

Under `[relative_path]/api/v4`: `projects` and `groups/{g}/projects` (paged, `Link`),
`projects/{id|enc path}`, `.../repository/files/{enc path}/raw?ref=` (ETag, 304 on
`If-None-Match`), `.../repository/commits?ref_name=&path=`,
`.../repository/archive[.tar.gz]?sha=&path=`, `.../repository/tree?ref=&path=&recursive=`
(paged). Private projects answer 404 unless `Authorization: Bearer` (or `PRIVATE-TOKEN`)
carries a token covering the project's group; an unknown token is 401.
`rate_limit(...)` refuses the next requests with 429 and `Retry-After`, as GitLab does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from backstage_backend_test_utils.scm._asgi import FakeRequest, FakeResponse
from backstage_backend_test_utils.scm._common import ServerState, paged, serve
from backstage_backend_test_utils.scm._repos import FakeRepository, blob_sha, make_tarball

__all__ = ["LoopbackGitlab", "start_loopback_gitlab"]

ExtraHandler = Callable[[FakeRequest], Awaitable[FakeResponse | None]]


@dataclass
class LoopbackGitlab(ServerState):
    """The loopback GitLab's data; change it while the server runs."""

    projects: dict[str, FakeRepository] = field(default_factory=dict)
    tokens: dict[str, set[str] | None] = field(default_factory=dict)
    """token -> top-level groups (lower case) it reads privately; None: all."""
    relative_path: str = ""
    """The sub-path the instance is served at (`/gitlab`), or `""`."""
    handlers: list[ExtraHandler] = field(default_factory=list)

    @property
    def web_base_url(self) -> str:
        return f"{self.base_url}{self.relative_path}"

    @property
    def api_base_url(self) -> str:
        return f"{self.web_base_url}/api/v4"

    def integration_config(self, **extra: Any) -> dict[str, Any]:
        """An `integrations.gitlab[]` entry for this server."""
        return {
            "host": self.host,
            "apiBaseUrl": self.api_base_url,
            "baseUrl": self.web_base_url,
            **extra,
        }

    def add_project(self, project: FakeRepository) -> FakeRepository:
        if not project.id:
            project.id = 100 + len(self.projects)
        self.projects[project.full_name.lower()] = project
        return project

    def blob_url(self, project: str, path: str, ref: str = "main") -> str:
        return f"{self.web_base_url}/{project}/-/blob/{ref}/{path}"

    def can_read(self, token: str | None, project: FakeRepository) -> bool:
        if not project.private:
            return True
        if token is None or token not in self.tokens:
            return False
        groups = self.tokens[token]
        return groups is None or project.owner.split("/")[0].lower() in groups

    def project_json(self, project: FakeRepository) -> dict[str, Any]:
        return {
            "id": project.id,
            "name": project.name,
            "path": project.name,
            "path_with_namespace": project.full_name,
            "default_branch": project.default_branch,
            "visibility": "private" if project.private else "public",
            "archived": project.archived,
            "topics": project.topics,
            "web_url": f"{self.web_base_url}/{project.full_name}",
            "http_url_to_repo": f"{self.web_base_url}/{project.full_name}.git",
            "namespace": {"full_path": project.owner},
        }

    def _find(self, key: str) -> FakeRepository | None:
        if key.isdigit():
            return next((p for p in self.projects.values() if p.id == int(key)), None)
        return self.projects.get(key.lower())


def _not_found(what: str = "404 Project Not Found") -> FakeResponse:
    return FakeResponse.json({"message": what}, 404)


async def _handle(state: LoopbackGitlab, request: FakeRequest) -> FakeResponse:
    for handler in state.handlers:
        response = await handler(request)
        if response is not None:
            return response
    limited = state.record(request)
    if limited is not None:
        return limited
    prefix = [s for s in state.relative_path.split("/") if s] + ["api", "v4"]
    segments = request.segments
    if segments[: len(prefix)] != prefix:
        return FakeResponse(404, b"Not Found")
    rest = segments[len(prefix) :]
    token = request.bearer()
    if token is not None and token not in state.tokens:
        return FakeResponse.json({"message": "401 Unauthorized"}, 401)
    readable = [p for p in state.projects.values() if state.can_read(token, p)]
    if rest == ["projects"]:
        page, headers = paged(state, request, [state.project_json(p) for p in readable])
        return FakeResponse.json(page, headers=headers)
    if len(rest) == 3 and rest[0] == "groups" and rest[2] == "projects":
        group = rest[1].lower()
        chosen = [
            p
            for p in readable
            if p.owner.lower() == group or p.owner.lower().startswith(group + "/")
        ]
        page, headers = paged(state, request, [state.project_json(p) for p in chosen])
        return FakeResponse.json(page, headers=headers)
    if len(rest) < 2 or rest[0] != "projects":
        return _not_found("404 Not Found")
    project = state._find(rest[1])
    if project is None or not state.can_read(token, project):
        return _not_found()
    action = rest[2:]
    if not action:
        return FakeResponse.json(state.project_json(project))
    if action[0] != "repository" or len(action) < 2:
        return _not_found("404 Not Found")
    return _repository(state, request, project, action[1:])


def _repository(
    state: LoopbackGitlab, request: FakeRequest, project: FakeRepository, action: list[str]
) -> FakeResponse:
    if action[0] == "files" and len(action) == 3 and action[2] == "raw":
        files = project.files(request.query.get("ref") or project.default_branch)
        if files is None or action[1] not in files:
            return _not_found("404 File Not Found")
        content = files[action[1]]
        return state.conditional(
            request,
            f'"{blob_sha(content)}"',
            FakeResponse(200, content, {"content-type": "text/plain; charset=utf-8"}),
        )
    if action == ["commits"]:
        ref = request.query.get("ref_name") or project.default_branch
        if project.files(ref) is None:
            return _not_found("404 Reference Not Found")
        sha = project.commit_sha(ref) if ref in project.branches else ref
        return FakeResponse.json([{"id": sha, "short_id": sha[:8], "title": "commit"}])
    if action[0] in ("archive", "archive.tar.gz") and len(action) == 1:
        ref = request.query.get("sha") or project.default_branch
        files = project.files(ref)
        if files is None:
            return _not_found("404 Reference Not Found")
        sha = project.commit_sha(ref) if ref in project.branches else ref
        top = f"{project.name}-{ref}-{sha}"
        body = make_tarball(top, files, request.query.get("path", ""))
        return FakeResponse(200, body, {"content-type": "application/octet-stream"})
    if action == ["tree"]:
        files = project.files(request.query.get("ref") or project.default_branch)
        if files is None:
            return _not_found("404 Tree Not Found")
        base = request.query.get("path", "").strip("/")
        recursive = request.query.get("recursive") in ("true", "1")
        items = _tree_items(files, base, recursive)
        page, headers = paged(state, request, items)
        return FakeResponse.json(page, headers=headers)
    return _not_found("404 Not Found")


def _tree_items(files: dict[str, bytes], base: str, recursive: bool) -> list[dict[str, Any]]:
    items: dict[str, dict[str, Any]] = {}
    for path in sorted(files):
        if base and not path.startswith(base + "/"):
            continue
        relative = path[len(base) + 1 :] if base else path
        parts = relative.split("/")
        depth = len(parts) if recursive else 1
        for index in range(min(depth, len(parts))):
            full = "/".join(([base] if base else []) + parts[: index + 1])
            is_blob = index == len(parts) - 1
            items.setdefault(
                full,
                {
                    "id": blob_sha(files[path]) if is_blob else "0" * 40,
                    "name": parts[index],
                    "type": "blob" if is_blob else "tree",
                    "path": full,
                    "mode": "100644" if is_blob else "040000",
                },
            )
    return list(items.values())


@asynccontextmanager
async def start_loopback_gitlab(
    state: LoopbackGitlab | None = None,
) -> AsyncIterator[LoopbackGitlab]:
    """Serve a loopback GitLab on a free port of 127.0.0.1 until the block ends.

    Args:
        state: the data to serve; None: an empty GitLab.
    """
    async with serve(state or LoopbackGitlab(), _handle) as gitlab:
        yield gitlab
