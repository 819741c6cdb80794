"""GitHub's GraphQL endpoint for the loopback GitHub: a small resolver for the queries the
providers send (repository listing; organisation members, teams and team members), paged
by cursor, with GitHub's token checks."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from backstage_backend_test_utils.scm._asgi import FakeRequest, FakeResponse
from backstage_backend_test_utils.scm._github import LoopbackGithub

__all__ = ["FakeOrg", "FakeTeam", "FakeUser", "github_graphql_handler"]


@dataclass
class FakeUser:
    """An organisation member as GraphQL's `membersWithRole` lists them."""

    login: str
    name: str | None = None
    email: str | None = None
    bio: str | None = None
    verified_emails: list[str] = field(default_factory=list)

    def node(self, with_email: bool) -> dict[str, Any]:
        node = {"login": self.login, "name": self.name, "bio": self.bio,
                "id": f"U_{self.login}", "avatarUrl": f"https://avatars.example/{self.login}",
                "organizationVerifiedDomainEmails": self.verified_emails}  # fmt: skip
        if with_email:
            node["email"] = self.email or ""
        return node


@dataclass
class FakeTeam:
    """A team: member logins (immediate members) and its parent team's slug."""

    slug: str
    members: list[str] = field(default_factory=list)
    parent: str | None = None
    name: str | None = None
    description: str | None = None


@dataclass
class FakeOrg:
    """An organisation's members and teams; change them while the server runs."""

    login: str
    members: list[FakeUser] = field(default_factory=list)
    teams: list[FakeTeam] = field(default_factory=list)


def _page(items: list[Any], variables: dict[str, Any], first_key: str = "first") -> Any:
    start = int(variables.get("cursor") or 0)
    end = start + int(variables[first_key])
    return items[start:end], {"hasNextPage": end < len(items), "endCursor": str(end)}


def _team_node(org: FakeOrg, team: FakeTeam, members_first: int) -> dict[str, Any]:
    members = [{"login": m} for m in team.members[:members_first]]
    return {
        "slug": team.slug, "combinedSlug": f"{org.login}/{team.slug}", "name": team.name,
        "description": team.description, "avatarUrl": None,
        "editTeamUrl": f"https://github.example/orgs/{org.login}/teams/{team.slug}/edit",
        "parentTeam": {"slug": team.parent} if team.parent else None,
        "members": {"nodes": members,
                    "pageInfo": {"hasNextPage": len(team.members) > members_first,
                                 "endCursor": str(members_first)}},
    }  # fmt: skip


def _org_query(org: FakeOrg, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    if "membersWithRole" in query:
        users, info = _page(org.members, variables)
        nodes = [u.node(bool(variables.get("email"))) for u in users]
        return {"membersWithRole": {"nodes": nodes, "pageInfo": info}}
    if "team(slug" in query:
        team = next((t for t in org.teams if t.slug == variables["teamSlug"]), None)
        if team is None:
            return {"team": None}
        logins, info = _page(team.members, variables)
        return {"team": {"members": {"nodes": [{"login": m} for m in logins], "pageInfo": info}}}
    teams, info = _page(org.teams, variables)
    nodes = [_team_node(org, t, int(variables["membersFirst"])) for t in teams]
    return {"teams": {"nodes": nodes, "pageInfo": info}}


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


def _reads_org(github: LoopbackGithub, token: str, login: str) -> bool:
    """A personal token listing the org, or an installation token of the org's App."""
    if token in github.tokens:
        owners = github.tokens[token]
        return owners is None or login.lower() in owners
    issued = github.issued.get(token)
    return issued is not None and issued.installation.account.lower() == login.lower()


def github_graphql_handler(
    github: LoopbackGithub, calls: list[dict[str, Any]], orgs: dict[str, FakeOrg] | None = None
) -> Any:
    """A handler for `github.handlers`: `POST /api/graphql`.

    Args:
        github: the loopback GitHub whose repositories and tokens it answers with.
        calls: each query's variables are appended here.
        orgs: the organisations by login; a personal token reads those it lists.
    """

    async def handle(request: FakeRequest) -> FakeResponse | None:
        if request.method != "POST" or request.segments != ["api", "graphql"]:
            return None
        token = request.bearer()
        if token is None or not github.known_token(token):
            return FakeResponse.json({"message": "Bad credentials"}, 401)
        body = json.loads(request.body)
        variables = body.get("variables") or {}
        calls.append(variables)
        if "organization(login" in body["query"]:
            org = (orgs or {}).get(variables.get("org", ""))
            if org is None or not _reads_org(github, token, org.login):
                message = f"Could not resolve to an Organization: {variables.get('org')}"
                return FakeResponse.json({"data": {"organization": None},
                                          "errors": [{"message": message}]})  # fmt: skip
            return FakeResponse.json(
                {"data": {"organization": _org_query(org, body["query"], variables)}}
            )
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
