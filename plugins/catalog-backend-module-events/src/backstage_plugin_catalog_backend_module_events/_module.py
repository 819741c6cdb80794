"""The `location-refresh-on-push` catalog module."""

from __future__ import annotations

from backstage_backend_plugin_api import (
    BackendModule,
    LoggerService,
    ModuleRegistrationPoints,
    create_backend_module,
)
from backstage_backend_plugin_api import core_services as core
from backstage_plugin_catalog_node import CatalogProcessing, EntityProviderConnection
from backstage_plugin_events_node import EventParams, Events

from backstage_plugin_catalog_backend_module_events._push import (
    github_push_keys,
    gitlab_push_keys,
)

__all__ = ["PushRefresher", "catalog_module_location_refresh_on_push"]

_KEYS_BY_TOPIC = {"github.push": github_push_keys, "gitlab.push": gitlab_push_keys}


class PushRefresher:
    """An entity provider that emits nothing: it holds the catalog's connection to refresh
    the entities whose refresh keys a push touched.

    Args:
        logger: where refreshes are logged.
    """

    subscriber_id = "LocationRefreshOnPush"

    def __init__(self, logger: LoggerService) -> None:
        self._logger = logger
        self._connection: EntityProviderConnection | None = None

    @property
    def name(self) -> str:
        """The provider's name."""
        return "location-refresh-on-push"

    async def connect(self, connection: EntityProviderConnection) -> None:
        """Keep the catalog's connection."""
        self._connection = connection

    async def on_event(self, params: EventParams) -> None:
        """Refresh what a `github.push` or `gitlab.push` event touched."""
        keys_of = _KEYS_BY_TOPIC.get(params.topic)
        if keys_of is None or self._connection is None:
            return
        keys = keys_of(params.event_payload)
        if not keys:
            return
        self._logger.info(
            f"A push ({params.topic}) touched {len(keys) // 2} catalog file(s); refreshing "
            "the locations registered at them"
        )
        await self._connection.refresh(keys)


def _register(env: ModuleRegistrationPoints) -> None:
    async def init(logger: core.Logger, processing: CatalogProcessing, events: Events) -> None:
        refresher = PushRefresher(logger)
        processing.add_entity_provider(refresher)
        await events.subscribe(
            id=refresher.subscriber_id,
            topics=list(_KEYS_BY_TOPIC),
            on_event=refresher.on_event,
        )

    env.register_init(init)


def catalog_module_location_refresh_on_push() -> BackendModule:
    """Subscribes to `github.push` and `gitlab.push`: each `.yaml`/`.yml` file a branch push
    added, modified or removed refreshes at once the entities registered with the refresh
    key `url:<repo>/blob/<branch>/<file>` (or `tree`), such as a Location registered at
    that file and what it emitted."""
    return create_backend_module(
        plugin_id="catalog", module_id="location-refresh-on-push", register=_register
    )
