"""GitHub discovery (`catalog.providers.github.<id>`): a Location for every repository of
an organisation that passes the filters, from the GraphQL repository listing."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from backstage_backend_plugin_api import (
    LoggerService,
    SchedulerService,
    SchedulerServiceTaskScheduleDefinition,
    read_scheduler_service_task_schedule_definition_from_config,
)
from backstage_common.config import Config
from backstage_common.errors import InputError, ServiceUnavailableError
from backstage_plugin_catalog_node import (
    DeferredEntity,
    DeltaMutation,
    FullMutation,
    ScheduledEntityProvider,
)
from backstage_plugin_events_node import EventParams

from backstage_plugin_catalog_backend_module_github._github_api import GithubApi, location_entity
from backstage_plugin_catalog_backend_module_github._glob import matches_catalog_path

__all__ = ["GithubDiscoveryConfig", "GithubEntityProvider", "read_github_discovery_configs"]

REPOSITORIES_QUERY = """
query repositories($org: String!, $first: Int!, $cursor: String, $catalogPathRef: String!) {
  repositoryOwner(login: $org) {
    login
    repositories(first: $first, after: $cursor) {
      nodes {
        name
        catalogInfoFile: object(expression: $catalogPathRef) { __typename ... on Blob { id text } }
        url isArchived isFork visibility
        repositoryTopics(first: 100) { nodes { topic { name } } }
        defaultBranchRef { name }
      }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"""


@dataclass(frozen=True, slots=True)
class GithubDiscoveryConfig:
    """One `catalog.providers.github.<id>` block.

    Args:
        id: the provider's id.
        host: the GitHub host (an `integrations.github[]` host).
        organization: the organisation whose repositories are listed; None: every
            organisation `app` is installed on.
        app: the GitHub App whose installations are listed when `organization` is not set.
        validate_locations_exist: emit only repositories whose catalog file exists (a
            non-empty blob); not with a glob `catalogPath`.
        catalog_path: the catalog file's path in each repository (globs allowed).
        repository: the anchored pattern repository names must match, or None.
        branch: the branch to read; None: each repository's default branch.
        topic_include: a repository needs one of these topics (when given).
        topic_exclude: a repository may have none of these topics.
        allow_forks: whether forks are kept.
        visibility: the visibilities kept (lower case); empty: all.
        allow_archived: whether archived repositories are kept.
        page_size: repositories per GraphQL page.
        schedule: when the provider lists the organisation.
    """

    id: str
    host: str
    organization: str | None
    catalog_path: str
    repository: re.Pattern[str] | None
    branch: str | None
    topic_include: tuple[str, ...]
    topic_exclude: tuple[str, ...]
    allow_forks: bool
    visibility: frozenset[str]
    allow_archived: bool
    page_size: int
    schedule: SchedulerServiceTaskScheduleDefinition
    app: int | None = None
    validate_locations_exist: bool = False


def _anchored(pattern: str) -> re.Pattern[str]:
    if not pattern.startswith("^"):
        pattern = "^" + pattern
    if not pattern.endswith("$"):
        pattern += "$"
    try:
        return re.compile(pattern)
    except re.error as error:
        raise InputError(f"filters.repository is not a valid pattern: {error}") from None


def _read_one(id: str, config: Config) -> GithubDiscoveryConfig:
    organization = config.get_optional_string("organization")
    app = config.get_optional_number("app")
    if not organization and app is None:
        raise InputError(
            f"{config.full_key('organization')} or {config.full_key('app')} is required"
        )
    branch = config.get_optional_string("filters.branch")
    if branch is not None and "/" in branch:
        raise InputError(f"{config.full_key('filters.branch')} may not contain '/'")
    pattern = config.get_optional_string("filters.repository")
    validate = bool(config.get_optional_boolean("validateLocationsExist"))
    catalog_path = config.get_optional_string("catalogPath") or "/catalog-info.yaml"
    if validate and ("*" in catalog_path or "?" in catalog_path):
        raise InputError(
            f"{config.full_key('validateLocationsExist')} cannot be used with a wildcard "
            f"catalogPath ({catalog_path})"
        )
    schedule = (
        read_scheduler_service_task_schedule_definition_from_config(config.get_config("schedule"))
        if config.has("schedule")
        else SchedulerServiceTaskScheduleDefinition(timedelta(hours=3), timedelta(hours=1))
    )
    return GithubDiscoveryConfig(
        id=id,
        host=config.get_optional_string("host") or "github.com",
        organization=organization,
        catalog_path=catalog_path,
        repository=_anchored(pattern) if pattern else None,
        branch=branch,
        topic_include=tuple(config.get_optional_string_array("filters.topic.include") or ()),
        topic_exclude=tuple(config.get_optional_string_array("filters.topic.exclude") or ()),
        allow_forks=config.get_optional_boolean("filters.allowForks") is not False,
        visibility=frozenset(
            v.lower() for v in config.get_optional_string_array("filters.visibility") or ()
        ),
        allow_archived=bool(config.get_optional_boolean("filters.allowArchived")),
        page_size=int(config.get_optional_number("pageSizes.repositories") or 25),
        schedule=schedule,
        app=None if organization else int(app or 0),  # organization wins, as in Backstage
        validate_locations_exist=validate,
    )


def read_github_discovery_configs(root: Config) -> list[GithubDiscoveryConfig]:
    """Every `catalog.providers.github` provider (a block with `organization` directly under
    it is the single provider `default`).

    Args:
        root: the root config.
    """
    block = root.get_optional_config("catalog.providers.github")
    if block is None:
        return []
    if block.has("organization") or block.has("app"):
        return [_read_one("default", block)]
    return [_read_one(id, block.get_config(id)) for id in block.keys()]


def _is_blob(value: Any) -> bool:
    return isinstance(value, dict) and value.get("__typename") == "Blob" and bool(value.get("text"))


@dataclass(frozen=True, slots=True)
class _Repo:
    name: str
    url: str
    archived: bool
    fork: bool
    visibility: str
    topics: tuple[str, ...]
    default_branch: str | None
    has_catalog_file: bool = True


class GithubEntityProvider(ScheduledEntityProvider[GithubDiscoveryConfig]):
    """Lists an organisation's repositories on its schedule and emits a Location for each
    that passes the filters, as one full mutation; pushes and repository events update it
    with deltas at once.

    Args:
        config: the provider's config.
        api: GraphQL access to the provider's host.
        scheduler: runs `<name>:refresh` on the config's schedule.
        logger: where failed reads are logged.
        app_organizations: lists the organisations of `config.app` (required with `app`).
    """

    name_prefix = "github-provider"

    def __init__(
        self,
        config: GithubDiscoveryConfig,
        api: GithubApi,
        scheduler: SchedulerService,
        logger: LoggerService,
        app_organizations: Callable[[], Awaitable[list[str]]] | None = None,
    ) -> None:
        super().__init__(config, scheduler, logger, failure="failed to list repositories")
        self._api = api
        self._app_organizations = app_organizations
        self._organizations: list[str] = [config.organization] if config.organization else []

    def _path(self) -> str:
        return self._config.catalog_path.lstrip("/")

    def _target(self, repo: _Repo) -> str:
        branch = self._config.branch or repo.default_branch
        return f"{repo.url}/blob/{branch}/{self._path()}"

    def _keeps(self, repo: _Repo) -> bool:
        config = self._config
        topics = set(repo.topics)
        return (
            (config.repository is None or config.repository.match(repo.name) is not None)
            and (config.allow_forks or not repo.fork)
            and (config.allow_archived or not repo.archived)
            and (not config.visibility or repo.visibility.lower() in config.visibility)
            and not topics.intersection(config.topic_exclude)
            and (not config.topic_include or bool(topics.intersection(config.topic_include)))
        )

    async def _organizations_now(self) -> list[str]:
        if self._config.organization:
            return [self._config.organization]
        if self._app_organizations is None:
            raise RuntimeError(f"{self.name} has an app but no way to list its installations")
        self._organizations = await self._app_organizations()
        return self._organizations

    async def _list(self) -> list[_Repo]:
        found: list[_Repo] = []
        for org in await self._organizations_now():
            found.extend(await self._list_org(org))
        return found

    async def _list_org(self, org: str) -> list[_Repo]:
        found: list[_Repo] = []
        cursor = None
        ref = f"{self._config.branch or 'HEAD'}:{self._path()}"
        while True:
            data = await self._api.query(
                org,
                REPOSITORIES_QUERY,
                {"org": org, "first": self._config.page_size, "cursor": cursor,
                 "catalogPathRef": ref},
            )  # fmt: skip
            owner = data.get("repositoryOwner") or {}
            page = owner.get("repositories") or {}
            for node in page.get("nodes") or []:
                branch = (node.get("defaultBranchRef") or {}).get("name")
                found.append(
                    _Repo(
                        name=node["name"], url=node["url"].rstrip("/"),
                        archived=bool(node.get("isArchived")), fork=bool(node.get("isFork")),
                        visibility=str(node.get("visibility") or ""),
                        topics=tuple(
                            t["topic"]["name"]
                            for t in (node.get("repositoryTopics") or {}).get("nodes") or []
                        ),
                        default_branch=branch,
                        has_catalog_file=_is_blob(node.get("catalogInfoFile")),
                    )
                )  # fmt: skip
            info = page.get("pageInfo") or {}
            if not info.get("hasNextPage"):
                return found
            if not info.get("endCursor") or info.get("endCursor") == cursor:
                raise ServiceUnavailableError("GitHub GraphQL paging did not advance")
            cursor = info.get("endCursor")

    async def read(self) -> None:
        """List the organisation now and replace what this provider emitted before.

        Raises:
            NotAllowedError: GitHub refused the credentials.
            ServiceUnavailableError: GitHub could not be reached.
        """
        connection = self._connected()
        repos = [r for r in await self._list() if r.default_branch and self._keeps(r)]
        if self._config.validate_locations_exist:
            repos = [r for r in repos if r.has_catalog_file]
        entities = [DeferredEntity(location_entity(self._target(r)), self.name) for r in repos]
        await connection.apply_mutation(FullMutation(entities))
        self._logger.info(f"{self.name} found {len(entities)} repositories")

    def _repo_of(self, payload: dict[str, Any]) -> _Repo | None:
        repository = payload.get("repository")
        organization = payload.get("organization")
        if not isinstance(repository, dict) or not isinstance(organization, dict):
            return None  # a user's own repositories are not the organisation's
        login = str(organization.get("login", ""))
        if login.lower() not in {o.lower() for o in self._organizations}:
            return None
        url = repository.get("html_url")
        if not isinstance(url, str) or not isinstance(repository.get("name"), str):
            return None
        # a payload may name any URL; only the provider's own host and organisation count
        prefix = f"{self._api.web_base}/{login}/".lower()
        if not url.lower().startswith(prefix) or ".." in url[len(prefix) :]:
            return None
        return _Repo(
            name=repository["name"], url=url.rstrip("/"),
            archived=bool(repository.get("archived")), fork=bool(repository.get("fork")),
            visibility=str(repository.get("visibility") or ""),
            topics=tuple(t for t in repository.get("topics") or [] if isinstance(t, str)),
            default_branch=repository.get("default_branch"),
        )  # fmt: skip

    async def on_event(self, params: EventParams) -> None:
        """Apply a `github.push` or `github.repository` event as a delta.

        Args:
            params: the event.
        """
        payload = params.event_payload
        if self._connection is None or not isinstance(payload, dict):
            return
        repo = self._repo_of(payload)
        if repo is None:
            return
        if params.topic == "github.push":
            await self._on_push(repo, payload)
        elif params.topic == "github.repository":
            await self._on_repository(repo, payload)

    async def _on_push(self, repo: _Repo, payload: dict[str, Any]) -> None:
        assert self._connection is not None
        branch = self._config.branch or repo.default_branch
        if payload.get("ref") != f"refs/heads/{branch}" or not self._keeps(repo):
            return
        added: dict[str, None] = {}
        removed: dict[str, None] = {}
        modified: dict[str, None] = {}
        for commit in payload.get("commits") or []:
            if not isinstance(commit, dict):
                continue
            for kind, into in (("added", added), ("removed", removed), ("modified", modified)):
                for path in commit.get(kind) or []:
                    if isinstance(path, str) and matches_catalog_path(path, self._path()):
                        into[path] = None

        def target(path: str) -> str:
            return f"{repo.url}/blob/{branch}/{path}"

        if added or removed:
            await self._connection.apply_mutation(
                DeltaMutation(
                    added=[DeferredEntity(location_entity(target(p)), self.name) for p in added],
                    removed=[
                        DeferredEntity(location_entity(target(p)), self.name) for p in removed
                    ],
                )
            )
        if modified:
            keys = [
                f"url:{repo.url}/{form}/{branch}/{p}" for p in modified for form in ("tree", "blob")
            ]
            await self._connection.refresh(keys)

    async def _on_repository(self, repo: _Repo, payload: dict[str, Any]) -> None:
        assert self._connection is not None
        action = payload.get("action")
        current = DeferredEntity(location_entity(self._target(repo)), self.name)
        gone = action == "deleted" or (action == "edited" and not self._keeps(repo))
        if gone or (action == "archived" and not self._config.allow_archived):
            await self._connection.apply_mutation(DeltaMutation(removed=[current]))
        elif action == "renamed":
            old_name = ((payload.get("changes") or {}).get("repository") or {}).get("name", {})
            old = old_name.get("from") if isinstance(old_name, dict) else None
            removed = []
            if isinstance(old, str) and old:
                old_url = repo.url.rsplit("/", 1)[0] + "/" + old
                old_repo = dataclasses.replace(repo, name=old, url=old_url)
                removed.append(DeferredEntity(location_entity(self._target(old_repo)), self.name))
            added = [current] if self._keeps(repo) else []
            await self._connection.apply_mutation(DeltaMutation(added=added, removed=removed))
        elif action in ("transferred", "unarchived") and self._keeps(repo):
            await self._connection.apply_mutation(DeltaMutation(added=[current]))
