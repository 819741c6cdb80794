"""Reading an organisation's members and teams through GraphQL, and turning them into
User and Group entities with their memberships."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from backstage_common.errors import ServiceUnavailableError

from backstage_plugin_catalog_backend_module_github._github_api import GithubApi
from backstage_plugin_catalog_backend_module_github._org_config import GithubOrgConfig

__all__ = ["OrgRead", "link_memberships", "read_org"]

USERS_QUERY = """
query users($org: String!, $first: Int!, $cursor: String, $email: Boolean!) {
  organization(login: $org) {
    membersWithRole(first: $first, after: $cursor) {
      pageInfo { hasNextPage endCursor }
      nodes {
        avatarUrl bio email @include(if: $email) id login name
        organizationVerifiedDomainEmails(login: $org)
      }
    }
  }
}
"""

TEAMS_QUERY = """
query teams($org: String!, $first: Int!, $cursor: String, $membersFirst: Int!) {
  organization(login: $org) {
    teams(first: $first, after: $cursor) {
      pageInfo { hasNextPage endCursor }
      nodes {
        slug combinedSlug name description avatarUrl editTeamUrl
        parentTeam { slug }
        members(first: $membersFirst, membership: IMMEDIATE) {
          pageInfo { hasNextPage endCursor }
          nodes { login }
        }
      }
    }
  }
}
"""

TEAM_MEMBERS_QUERY = """
query teamMembers($org: String!, $teamSlug: String!, $first: Int!, $cursor: String) {
  organization(login: $org) {
    team(slug: $teamSlug) {
      members(first: $first, after: $cursor, membership: IMMEDIATE) {
        pageInfo { hasNextPage endCursor }
        nodes { login }
      }
    }
  }
}
"""


@dataclass
class OrgRead:
    """Users (merged across organisations by ref) and groups."""

    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    groups: list[dict[str, Any]] = field(default_factory=list)


async def _pages(
    api: GithubApi, org: str, query: str, variables: dict[str, Any], path: tuple[str, ...]
) -> list[dict[str, Any]]:
    nodes: list[dict[str, Any]] = []
    cursor = None
    while True:
        data: Any = await api.query(org, query, {**variables, "org": org, "cursor": cursor})
        for key in path:
            data = (data or {}).get(key)
        page = data or {}
        nodes.extend(n for n in page.get("nodes") or [] if isinstance(n, dict))
        info = page.get("pageInfo") or {}
        if not info.get("hasNextPage"):
            return nodes
        if not info.get("endCursor") or info["endCursor"] == cursor:
            # never apply a full mutation built from part of the data
            raise ServiceUnavailableError("GitHub GraphQL paging did not advance")
        cursor = info["endCursor"]


def _email(node: dict[str, Any], verified: bool) -> str | None:
    if verified:
        for address in node.get("organizationVerifiedDomainEmails") or []:
            if isinstance(address, str) and "@" in address:
                local, _, domain = address.partition("@")
                return f"{local.split('+', 1)[0]}@{domain}"
    email = node.get("email")
    return email if isinstance(email, str) and email else None


def _user(node: dict[str, Any], config: GithubOrgConfig) -> dict[str, Any]:
    login = node["login"]
    annotations = {"github.com/user-login": login}
    if node.get("id"):
        annotations["github.com/user-id"] = str(node["id"])
    location = f"url:{config.github_url}/{login}"
    annotations["backstage.io/managed-by-location"] = location
    annotations["backstage.io/managed-by-origin-location"] = location
    profile = {
        key: value
        for key, value in (
            ("displayName", node.get("name")),
            ("email", _email(node, config.use_verified_emails)),
            ("picture", node.get("avatarUrl")),
        )
        if value
    }
    metadata: dict[str, Any] = {"name": login, "annotations": annotations}
    if node.get("bio"):
        metadata["description"] = node["bio"]
    return {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "User",
        "metadata": metadata,
        "spec": {"profile": profile, "memberOf": []},
    }


def _group(
    node: dict[str, Any], org: str, namespace: str, members: list[str], config: GithubOrgConfig
) -> dict[str, Any]:
    slug = node["slug"]
    combined = node.get("combinedSlug") or f"{org}/{slug}"
    team_org, _, team_slug = combined.partition("/")
    location = f"url:{config.github_url}/orgs/{team_org}/teams/{team_slug}"
    annotations = {
        "github.com/team-slug": combined,
        "backstage.io/managed-by-location": location,
        "backstage.io/managed-by-origin-location": location,
    }
    if node.get("editTeamUrl"):
        annotations["backstage.io/edit-url"] = node["editTeamUrl"]
    metadata: dict[str, Any] = {"name": slug, "annotations": annotations}
    if namespace != "default":
        metadata["namespace"] = namespace
    if node.get("description"):
        metadata["description"] = node["description"]
    profile = {k: v for k, v in (("displayName", node.get("name")),
                                 ("picture", node.get("avatarUrl"))) if v}  # fmt: skip
    spec: dict[str, Any] = {"type": "team", "profile": profile, "children": []}
    parent = (node.get("parentTeam") or {}).get("slug")
    if parent:
        spec["parent"] = parent
    prefix = "default/" if namespace != "default" else ""
    spec["members"] = [prefix + login for login in members]
    return {"apiVersion": "backstage.io/v1alpha1", "kind": "Group", "metadata": metadata,
            "spec": spec}  # fmt: skip


def _namespace(org: str, config: GithubOrgConfig) -> str:
    return "default" if config.always_use_default_namespace else org.lower()


async def read_org(api: GithubApi, config: GithubOrgConfig, into: OrgRead, org: str) -> None:
    """Add one organisation's users and teams to `into`.

    Args:
        api: GraphQL access to the host.
        config: the definition.
        into: what was read so far.
        org: the organisation's login.

    Raises:
        NotAllowedError: no credentials for the organisation, or GitHub refused them.
        ServiceUnavailableError: GitHub could not be reached.
    """
    with_email = await api.token_type(org) == "token"  # App tokens may not ask for emails
    members = await _pages(
        api, org, USERS_QUERY,
        {"first": config.members_page_size, "email": with_email},
        ("organization", "membersWithRole"),
    )  # fmt: skip
    for node in members:
        if isinstance(node.get("login"), str):
            user = _user(node, config)
            into.users.setdefault(f"user:default/{node['login']}".lower(), user)
    teams = await _pages(
        api, org, TEAMS_QUERY,
        {"first": config.teams_page_size, "membersFirst": config.team_members_page_size},
        ("organization", "teams"),
    )  # fmt: skip
    namespace = _namespace(org, config)
    for node in teams:
        if not isinstance(node.get("slug"), str):
            continue
        page = node.get("members") or {}
        if (page.get("pageInfo") or {}).get("hasNextPage"):
            nodes = await _pages(
                api, org, TEAM_MEMBERS_QUERY,
                {"teamSlug": node["slug"], "first": config.team_members_page_size},
                ("organization", "team", "members"),
            )  # fmt: skip
        else:
            nodes = [n for n in page.get("nodes") or [] if isinstance(n, dict)]
        logins = [n["login"] for n in nodes if isinstance(n.get("login"), str)]
        into.groups.append(_group(node, org, namespace, logins, config))


def _key(entity: dict[str, Any]) -> str:
    namespace = entity["metadata"].get("namespace", "default")
    name = entity["metadata"]["name"]
    return name if namespace == "default" else f"{namespace}/{name}"


def link_memberships(read: OrgRead) -> list[dict[str, Any]]:
    """Fill groups' `children` and users' `memberOf`; every entity, sorted as Backstage does.

    Args:
        read: what was read.
    """
    by_key = {_key(g): g for g in read.groups}
    for group in read.groups:
        namespace = group["metadata"].get("namespace", "default")
        parent = group["spec"].get("parent")
        if parent:
            parent_key = parent if namespace == "default" else f"{namespace}/{parent}"
            if parent_key in by_key:
                by_key[parent_key]["spec"]["children"].append(group["metadata"]["name"])
        for member in group["spec"]["members"]:
            user = read.users.get(f"user:{member}".lower() if "/" in member
                                  else f"user:default/{member}".lower())  # fmt: skip
            if user is not None and _key(group) not in user["spec"]["memberOf"]:
                user["spec"]["memberOf"].append(_key(group))
    entities = [*read.users.values(), *read.groups]

    def order(entity: dict[str, Any]) -> tuple[str, str, str, str]:
        annotations = entity["metadata"]["annotations"]
        return (entity["metadata"]["name"], annotations["backstage.io/managed-by-location"],
                entity["kind"], entity["metadata"].get("namespace", "default"))  # fmt: skip

    return sorted(entities, key=order)
