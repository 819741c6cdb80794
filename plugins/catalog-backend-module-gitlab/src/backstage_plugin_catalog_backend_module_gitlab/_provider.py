"""GitLab discovery (`catalog.providers.gitlab.<id>`): a Location for every project of a
group (or the instance) that has the catalog file and passes the filters."""

from __future__ import annotations

import asyncio
import posixpath
from typing import Any
from urllib.parse import quote

from backstage_backend_plugin_api import LoggerService, SchedulerService
from backstage_plugin_catalog_node import (
    DeferredEntity,
    DeltaMutation,
    FullMutation,
    ScheduledEntityProvider,
)
from backstage_plugin_catalog_node import location_spec_to_location_entity as location_entity
from backstage_plugin_events_node import EventParams

from backstage_plugin_catalog_backend_module_gitlab._config import GitlabDiscoveryConfig
from backstage_plugin_catalog_backend_module_gitlab._gitlab_api import GitlabApi

__all__ = ["GitlabDiscoveryEntityProvider", "location_entity"]


class GitlabDiscoveryEntityProvider(ScheduledEntityProvider[GitlabDiscoveryConfig]):
    """Lists a group's projects on its schedule and emits a Location for each project that
    has the catalog file, as one full mutation; `gitlab.push` events update it at once.

    Args:
        config: the provider's config.
        api: the GitLab instance's API.
        scheduler: runs `<name>:refresh` on the config's schedule.
        logger: where failed reads are logged.
    """

    name_prefix = "GitlabDiscoveryEntityProvider"
    """The name, `GitlabDiscoveryEntityProvider:<id>`, is also the location key."""

    def __init__(
        self,
        config: GitlabDiscoveryConfig,
        api: GitlabApi,
        scheduler: SchedulerService,
        logger: LoggerService,
    ) -> None:
        super().__init__(config, scheduler, logger, failure="failed to list projects")
        self._api = api

    def _branch(self, project: dict[str, Any]) -> str:
        default = project.get("default_branch")
        return self._config.branch or (default if isinstance(default, str) and default
                                       else self._config.fallback_branch)  # fmt: skip

    def _keeps(self, project: dict[str, Any]) -> bool:
        config = self._config
        path = str(project.get("path_with_namespace") or "")
        return (
            bool(path)
            and config.project_pattern.search(path) is not None
            and (not config.group or path.startswith(config.group + "/"))
            and not (config.skip_forked_repos and "forked_from_project" in project)
            and (config.include_archived_repos or not project.get("archived"))
            and path not in config.exclude_repos
            and (not config.topics or set(config.topics) <= set(project.get("topics") or []))
        )

    def _target(self, project: dict[str, Any], branch: str, path: str) -> str:
        return f"{str(project['web_url']).rstrip('/')}/-/blob/{branch}/{path}"

    async def _groups(self) -> list[str]:
        if not self._config.group_patterns:
            return [self._config.group]
        groups = []
        async for group in self._api.pages("/groups", {}):
            full_path = str(group.get("full_path") or "")
            if any(p.search(full_path) for p in self._config.group_patterns):
                groups.append(full_path)
        return groups

    async def _projects(self) -> list[dict[str, Any]]:
        config = self._config
        params = {
            "archived": "" if config.include_archived_repos else "false",
            "membership": "true" if config.membership else "",
            "topic": ",".join(config.topics),
            "simple": "" if config.skip_forked_repos else "true",
        }
        seen: dict[Any, dict[str, Any]] = {}
        for group in await self._groups():
            path = f"/groups/{quote(group, safe='')}/projects" if group else "/projects"
            extra = {"include_subgroups": "true"} if group else {}
            async for project in self._api.pages(path, {**params, **extra}):
                seen.setdefault(project.get("id"), project)
        return list(seen.values())

    async def read(self) -> None:
        """List the projects now and replace what this provider emitted before.

        Raises:
            NotAllowedError: GitLab refused the token.
            ServiceUnavailableError: GitLab could not be reached.
        """
        connection = self._connected()
        filename = self._config.entity_filename
        kept = [p for p in await self._projects() if self._keeps(p)]
        probes = await asyncio.gather(
            *(self._api.has_file(p["id"], filename, self._branch(p)) for p in kept)
        )
        entities = [
            DeferredEntity(location_entity(self._target(p, self._branch(p), filename)), self.name)
            for p, found in zip(kept, probes, strict=True)
            if found
        ]
        await connection.apply_mutation(FullMutation(entities))
        self._logger.info(f"{self.name} found {len(entities)} projects")

    async def on_event(self, params: EventParams) -> None:
        """Apply a `gitlab.push` that touched a catalog file as a delta or a refresh.

        Args:
            params: the event.
        """
        payload = params.event_payload
        if self._connection is None or params.topic != "gitlab.push":
            return
        if not isinstance(payload, dict) or not isinstance(payload.get("project_id"), int):
            return
        project = await self._api.project(payload["project_id"])
        if project is None or not self._keeps(project):
            return
        branch = self._branch(project)
        if payload.get("ref") != f"refs/heads/{branch}":
            return
        changes: dict[str, dict[str, None]] = {"added": {}, "removed": {}, "modified": {}}
        for commit in payload.get("commits") or []:
            for kind, found in changes.items():
                for path in (commit.get(kind) if isinstance(commit, dict) else None) or []:
                    name = self._config.entity_filename
                    if isinstance(path, str) and posixpath.basename(path) == name:
                        found[path] = None
        added, removed, modified = changes["added"], changes["removed"], changes["modified"]
        if added or removed:
            await self._connection.apply_mutation(
                DeltaMutation(
                    added=[DeferredEntity(location_entity(self._target(project, branch, p)),
                                          self.name) for p in added],
                    removed=[DeferredEntity(location_entity(self._target(project, branch, p)),
                                            self.name) for p in removed],
                )
            )  # fmt: skip
        if modified:
            web = str(project["web_url"]).rstrip("/")
            await self._connection.refresh(
                [f"url:{web}/-/{form}/{branch}/{p}" for p in modified for form in ("tree", "blob")]
            )
