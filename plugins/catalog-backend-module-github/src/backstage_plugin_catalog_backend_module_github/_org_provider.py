"""The GitHub organisation providers a `githubOrg` definition registers."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from backstage_backend_plugin_api import LoggerService, SchedulerService
from backstage_plugin_catalog_node import (
    DeferredEntity,
    EntityProviderConnection,
    FullMutation,
    ScheduledEntityProvider,
)
from backstage_plugin_events_node import EventParams

from backstage_plugin_catalog_backend_module_github._github_api import GithubApi
from backstage_plugin_catalog_backend_module_github._org_config import GithubOrgConfig
from backstage_plugin_catalog_backend_module_github._org_read import (
    OrgRead,
    link_memberships,
    read_org,
)

__all__ = [
    "ORG_TOPICS",
    "GithubMultiOrgEntityProvider",
    "GithubOrgEntityCleanerProvider",
    "params_is_installation",
]

ORG_TOPICS = ["github.organization", "github.team", "github.membership", "github.installation"]


def params_is_installation(payload: dict[str, Any]) -> bool:
    """Whether a payload is an App installation's `created` event."""
    return isinstance(payload.get("installation"), dict) and payload.get("action") == "created"


class GithubOrgEntityCleanerProvider:
    """Empties, once at startup, what the single-org provider of the same id emitted, as
    Backstage does when the multi-org provider takes over.

    Args:
        id: the definition's id.
    """

    def __init__(self, id: str) -> None:
        self._id = id

    @property
    def name(self) -> str:
        """`GithubOrgEntityProvider:<id>`."""
        return f"GithubOrgEntityProvider:{self._id}"

    async def connect(self, connection: EntityProviderConnection) -> None:
        """Apply an empty full mutation.

        Args:
            connection: the catalog's connection.
        """
        await connection.apply_mutation(FullMutation([]))


class GithubMultiOrgEntityProvider(ScheduledEntityProvider[GithubOrgConfig]):
    """Users and teams of the listed organisations, read on the definition's schedule and
    applied as one full mutation. Organisation, team, membership and installation events of
    a listed organisation read them again at once.

    Args:
        config: the definition.
        api: GraphQL access to the definition's host.
        scheduler: runs `<name>:refresh` on the definition's schedule.
        logger: where failed reads are logged.
        app_organizations: lists the Apps' organisations when the definition names none.
    """

    name_prefix = "GithubMultiOrgEntityProvider"

    def __init__(
        self,
        config: GithubOrgConfig,
        api: GithubApi,
        scheduler: SchedulerService,
        logger: LoggerService,
        app_organizations: Callable[[], Awaitable[list[str]]] | None = None,
    ) -> None:
        super().__init__(config, scheduler, logger, failure="failed to read (the schedule)")
        self._app_organizations = app_organizations
        self._orgs: list[str] = list(config.orgs)
        self._api = api
        self._lock = asyncio.Lock()
        self._queued = False

    @property
    def location_key(self) -> str:
        """`github-multi-org-provider:<id>`."""
        return f"github-multi-org-provider:{self._config.id}"

    async def _read_logged(self, reason: str, *, locked: bool = False) -> None:
        try:
            await (self._read_locked() if locked else self.read())
        except Exception as error:  # a failed read keeps what the catalog has
            self._logger.error(f"{self.name} failed to read ({reason}): {error}")

    async def read(self) -> None:
        """Read every listed organisation and replace what this provider emitted before.
        Any organisation failing fails the whole read: a full mutation is never built from
        part of the data.

        Raises:
            NotAllowedError: no credentials for an organisation, or GitHub refused them.
            ServiceUnavailableError: GitHub could not be reached.
        """
        async with self._lock:
            await self._read_locked()

    async def _read_locked(self) -> None:
        connection = self._connected()
        if not self._config.orgs:
            if self._app_organizations is None:
                raise RuntimeError(f"{self.name} names no orgs and has no App to list")
            self._orgs = await self._app_organizations()
        read = OrgRead()
        for org in self._orgs:
            await read_org(self._api, self._config, read, org)
        entities = link_memberships(read)
        await connection.apply_mutation(
            FullMutation([DeferredEntity(e, self.location_key) for e in entities])
        )
        self._logger.info(f"{self.name} read {len(read.users)} users and {len(read.groups)} teams")

    def _concerns_us(self, payload: Any) -> bool:
        if not isinstance(payload, dict):
            return False
        logins = set()
        for key, nested in (("installation", "account"), ("organization", None)):
            value = payload.get(key)
            if isinstance(value, dict) and nested:
                value = value.get(nested)
            if isinstance(value, dict) and isinstance(value.get("login"), str):
                logins.add(value["login"])
        if not self._config.orgs and params_is_installation(payload):
            return True  # a new installation of the App adds an organisation
        return bool(logins.intersection(self._orgs))  # exact, as in Backstage

    async def on_event(self, params: EventParams) -> None:
        """Read the organisations again when a listed one's members or teams changed.

        Args:
            params: a `github.organization`, `github.team`, `github.membership` or
                `github.installation` event.
        """
        if self._connection is None or params.topic not in ORG_TOPICS:
            return
        if not self._concerns_us(params.event_payload):
            return
        action = params.event_payload.get("action")
        if params.topic == "github.installation" and action != "created":
            return
        if self._queued:
            return  # a read that starts after this event is already waiting: it covers it
        self._queued = True
        started = False
        try:
            async with self._lock:
                started = True
                self._queued = False
                await self._read_logged(f"a {params.topic} {action} event", locked=True)
        finally:
            if not started:  # cancelled while waiting: let the next event queue a read
                self._queued = False
