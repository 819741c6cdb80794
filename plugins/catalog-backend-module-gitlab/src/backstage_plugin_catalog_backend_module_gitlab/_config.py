"""`catalog.providers.gitlab.<id>` as Backstage reads it (discovery keys)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from backstage_backend_plugin_api import (
    SchedulerServiceTaskScheduleDefinition,
    read_scheduler_service_task_schedule_definition_from_config,
)
from backstage_common.config import Config
from backstage_common.errors import InputError

__all__ = ["GitlabDiscoveryConfig", "read_gitlab_discovery_configs"]


@dataclass(frozen=True, slots=True)
class GitlabDiscoveryConfig:
    """One `catalog.providers.gitlab.<id>` block.

    Args:
        id: the provider's id.
        host: the GitLab host (an `integrations.gitlab[]` host).
        group: the full group path searched; empty: the whole instance.
        branch: the branch read; None: each project's default branch.
        fallback_branch: the branch of a project without a default one.
        entity_filename: the catalog file's path in each project.
        project_pattern: tested (unanchored) on `path_with_namespace`.
        group_patterns: any of them must match a group's `full_path`; empty: all groups.
        skip_forked_repos: drop forks.
        include_archived_repos: keep archived projects.
        exclude_repos: exact `path_with_namespace` values to drop.
        membership: only projects the token's user is a member of.
        topics: only projects with these topics.
        schedule: when the provider lists the projects.
    """

    id: str
    host: str
    group: str
    branch: str | None
    fallback_branch: str
    entity_filename: str
    project_pattern: re.Pattern[str]
    group_patterns: tuple[re.Pattern[str], ...]
    skip_forked_repos: bool
    include_archived_repos: bool
    exclude_repos: frozenset[str]
    membership: bool
    topics: tuple[str, ...]
    schedule: SchedulerServiceTaskScheduleDefinition


def _pattern(config: Config, key: str, value: str) -> re.Pattern[str]:
    try:
        return re.compile(value)
    except re.error as error:
        raise InputError(f"{config.full_key(key)} is not a valid pattern: {error}") from None


def _read_one(id: str, config: Config) -> GitlabDiscoveryConfig:
    if not config.has("schedule"):
        raise InputError(f"{config.full_key('schedule')} is required")
    group_value = config.get_optional("groupPattern")
    if group_value is None:
        group_patterns: tuple[re.Pattern[str], ...] = ()
    elif isinstance(group_value, list):
        group_patterns = tuple(
            _pattern(config, "groupPattern", v) for v in config.get_string_array("groupPattern")
        )
    else:
        group_patterns = (_pattern(config, "groupPattern", config.get_string("groupPattern")),)
    return GitlabDiscoveryConfig(
        id=id,
        host=config.get_string("host"),
        group=(config.get_optional_string("group") or "").strip("/"),
        branch=config.get_optional_string("branch"),
        fallback_branch=config.get_optional_string("fallbackBranch") or "master",
        entity_filename=config.get_optional_string("entityFilename") or "catalog-info.yaml",
        project_pattern=_pattern(
            config, "projectPattern", config.get_optional_string("projectPattern") or ""
        ),
        group_patterns=group_patterns,
        skip_forked_repos=bool(config.get_optional_boolean("skipForkedRepos")),
        include_archived_repos=bool(config.get_optional_boolean("includeArchivedRepos")),
        exclude_repos=frozenset(config.get_optional_string_array("excludeRepos") or ()),
        membership=bool(config.get_optional_boolean("membership")),
        topics=tuple(config.get_optional_string_array("topics") or ()),
        schedule=read_scheduler_service_task_schedule_definition_from_config(
            config.get_config("schedule")
        ),
    )


def read_gitlab_discovery_configs(root: Config) -> list[GitlabDiscoveryConfig]:
    """Every `catalog.providers.gitlab.<id>` block (none when absent).

    Args:
        root: the root config.

    Raises:
        InputError: a block lacks `host` or `schedule`, or has an invalid pattern.
    """
    block = root.get_optional_config("catalog.providers.gitlab")
    if block is None:
        return []
    return [_read_one(id, block.get_config(id)) for id in block.keys()]
