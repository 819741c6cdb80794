"""GitLab webhooks: the token check on topic `gitlab`, and the `gitlab.<object_kind>` router."""

from __future__ import annotations

from backstage_backend_plugin_api import (
    BackendModule,
    ModuleRegistrationPoints,
    create_backend_module,
)
from backstage_backend_plugin_api import core_services as core
from backstage_plugin_events_node import Events, EventsApi, HttpPostIngressOptions

from backstage_plugin_events_backend.gitlab._router import GitlabEventRouter
from backstage_plugin_events_backend.gitlab._validator import gitlab_token_validator

__all__ = [
    "GitlabEventRouter",
    "events_module_gitlab_event_router",
    "events_module_gitlab_webhook",
    "gitlab_token_validator",
]


def _register_webhook(env: ModuleRegistrationPoints) -> None:
    async def init(config: core.RootConfig, logger: core.Logger, api: EventsApi) -> None:
        secret = config.get_optional_string("events.modules.gitlab.webhookSecret")
        if not secret:
            logger.info("No events.modules.gitlab.webhookSecret: topic 'gitlab' is not opened")
            return
        api.add_http_post_ingress(
            HttpPostIngressOptions(topic="gitlab", validator=gitlab_token_validator(secret))
        )

    env.register_init(init)


def events_module_gitlab_webhook() -> BackendModule:
    """Opens `POST /api/events/http/gitlab` when `events.modules.gitlab.webhookSecret` is
    set, accepting only requests whose `X-Gitlab-Token` is that secret."""
    return create_backend_module(
        plugin_id="events", module_id="gitlab-webhook", register=_register_webhook
    )


def _register_router(env: ModuleRegistrationPoints) -> None:
    async def init(events: Events) -> None:
        await GitlabEventRouter(events).subscribe()

    env.register_init(init)


def events_module_gitlab_event_router() -> BackendModule:
    """Republishes each `gitlab` event as `gitlab.<object_kind>` (e.g. `gitlab.push`)."""
    return create_backend_module(
        plugin_id="events", module_id="gitlab-event-router", register=_register_router
    )
