"""GitHub's GraphQL endpoint for the loopback GitHub: a small resolver for the repository
listing the discovery provider sends, paged by cursor, with GitHub's token checks."""

from __future__ import annotations

import json
from typing import Any

from backstage_backend_test_utils.scm import FakeRequest, FakeResponse, LoopbackGithub

__all__ = ["graphql_handler"]


def _repository_node(github: LoopbackGithub, repo: Any, expression: str) -> dict[str, Any]:
    ref, _, path = expression.partition(":")
    files = repo.files(repo.default_branch if ref == "HEAD" else ref) or {}
    blob = files.get(path)
    return {
        "name": repo.name,
        "catalogInfoFile": None if blob is None else {"__typename": "Blob", "id": path,
                                                      "text": blob.decode()},
        "url": f"{github.base_url}/{repo.owner}/{repo.name}",
        "isArchived": repo.archived,
        "isFork": repo.fork,
        "visibility": "PRIVATE" if repo.private else "PUBLIC",
        "repositoryTopics": {"nodes": [{"topic": {"name": t}} for t in repo.topics]},
        "defaultBranchRef": {"name": repo.default_branch} if repo.branches else None,
    }  # fmt: skip


def graphql_handler(github: LoopbackGithub, calls: list[dict[str, Any]]) -> Any:
    async def handle(request: FakeRequest) -> FakeResponse | None:
        if request.method != "POST" or request.segments != ["api", "graphql"]:
            return None
        token = request.bearer()
        if token is None or not github.known_token(token):
            return FakeResponse.json({"message": "Bad credentials"}, 401)
        body = json.loads(request.body)
        variables = body.get("variables") or {}
        calls.append(variables)
        if "repositoryOwner" not in body["query"]:
            return FakeResponse.json({"errors": [{"message": "unknown query"}]})
        org = variables["org"]
        repos = sorted(
            (r for r in github.repositories.values()
             if r.owner == org and github.can_read(token, r)),
            key=lambda r: r.name,
        )  # fmt: skip
        start = int(variables.get("cursor") or 0)
        end = start + int(variables["first"])
        nodes = [_repository_node(github, r, variables["catalogPathRef"]) for r in repos[start:end]]
        page = {"hasNextPage": end < len(repos), "endCursor": str(end)}
        repositories = {"nodes": nodes, "pageInfo": page}
        data = {"repositoryOwner": {"login": org, "repositories": repositories}}
        return FakeResponse.json({"data": data})

    return handle
