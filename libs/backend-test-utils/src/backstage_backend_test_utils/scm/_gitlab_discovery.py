"""Endpoints discovery needs beyond the loopback GitLab's built-ins: the catalog file probe
(`HEAD projects/{id}/repository/files/{path}?ref=`) and the group listing (`GET groups`),
with the same token rules."""

from __future__ import annotations

from typing import Any

from backstage_backend_test_utils.scm._asgi import FakeRequest, FakeResponse
from backstage_backend_test_utils.scm._gitlab import LoopbackGitlab

__all__ = ["gitlab_discovery_handler"]


def gitlab_discovery_handler(gitlab: LoopbackGitlab, probes: list[str]) -> Any:
    """A handler for `gitlab.handlers` (served at the API root, no sub-path).

    Args:
        gitlab: the loopback GitLab whose projects and tokens it answers with.
        probes: each probed file path is appended here.
    """

    async def handle(request: FakeRequest) -> FakeResponse | None:
        rest = request.segments[2:]  # after api/v4
        token = request.bearer()
        if token is not None and token not in gitlab.tokens:
            return FakeResponse.json({"message": "401 Unauthorized"}, 401)
        if request.method == "HEAD" and len(rest) == 5 and rest[2:4] == ["repository", "files"]:
            probes.append(rest[4])
            project = next((p for p in gitlab.projects.values() if str(p.id) == rest[1]), None)
            if project is None or not gitlab.can_read(token, project):
                return FakeResponse(404)
            files = project.files(request.query.get("ref", "")) or {}
            return FakeResponse(200 if rest[4] in files else 404)
        if request.method == "GET" and rest == ["groups"]:
            paths = sorted({p.owner for p in gitlab.projects.values() if gitlab.can_read(token, p)})
            return FakeResponse.json([{"id": i, "full_path": g} for i, g in enumerate(paths)])
        return None

    return handle
