"""`catalog.providers.githubOrg`: one definition or a list of them."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from backstage_backend_plugin_api import (
    SchedulerServiceTaskScheduleDefinition,
    read_scheduler_service_task_schedule_definition_from_config,
)
from backstage_common.config import Config
from backstage_common.errors import InputError

__all__ = ["GithubOrgConfig", "read_github_org_configs"]


@dataclass(frozen=True, slots=True)
class GithubOrgConfig:
    """One `githubOrg` definition.

    Args:
        id: the definition's id.
        github_url: the GitHub origin (`https://github.com`), which selects the integration.
        orgs: the organisations read, in order; empty: every organisation the
            integration's Apps are installed on.
        schedule: when they are read.
        teams_page_size: teams per GraphQL page.
        team_members_page_size: members per team page.
        members_page_size: organisation members per page.
        use_verified_emails: take a user's first verified domain email over `email`.
        always_use_default_namespace: groups stay in `default` (one definition of one org).
    """

    id: str
    github_url: str
    orgs: tuple[str, ...]
    schedule: SchedulerServiceTaskScheduleDefinition
    teams_page_size: int = 25
    team_members_page_size: int = 50
    members_page_size: int = 50
    use_verified_emails: bool = False
    always_use_default_namespace: bool = False

    @property
    def host(self) -> str:
        """The GitHub host (with its port)."""
        return urlsplit(self.github_url).netloc


def _read_one(config: Config, single_org: bool) -> GithubOrgConfig:
    id = config.get_string("id")
    github_url = config.get_string("githubUrl")
    parts = urlsplit(github_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InputError(f"{config.full_key('githubUrl')} must be an http(s) URL")
    orgs = config.get_optional_string_array("orgs") or []  # none: every App installation
    if not config.has("schedule"):
        raise InputError(f"{config.full_key('schedule')} is required")
    return GithubOrgConfig(
        id=id,
        github_url=f"{parts.scheme}://{parts.netloc}",
        orgs=tuple(orgs),
        schedule=read_scheduler_service_task_schedule_definition_from_config(
            config.get_config("schedule")
        ),
        teams_page_size=int(config.get_optional_number("pageSizes.teams") or 25),
        team_members_page_size=int(config.get_optional_number("pageSizes.teamMembers") or 50),
        members_page_size=int(config.get_optional_number("pageSizes.organizationMembers") or 50),
        use_verified_emails=bool(
            config.get_optional_boolean("defaultUserTransformer.useVerifiedEmails")
        ),
        always_use_default_namespace=single_org and len(orgs) == 1,
    )


def read_github_org_configs(root: Config) -> list[GithubOrgConfig]:
    """Every `catalog.providers.githubOrg` definition (none when absent).

    Args:
        root: the root config.

    Raises:
        InputError: a definition lacks `id`, `githubUrl`, `orgs` or `schedule`.
    """
    value = root.get_optional("catalog.providers.githubOrg")
    if value is None:
        return []
    blocks = (
        root.get_config_array("catalog.providers.githubOrg")
        if isinstance(value, list)
        else [root.get_config("catalog.providers.githubOrg")]
    )
    return [_read_one(block, single_org=len(blocks) == 1) for block in blocks]
