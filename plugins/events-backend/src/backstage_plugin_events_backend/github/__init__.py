"""GitHub webhooks: the signature check on topic `github`, and the `github.<event>` router."""

from __future__ import annotations

from backstage_backend_plugin_api import (
    BackendModule,
    ModuleRegistrationPoints,
    create_backend_module,
)
from backstage_backend_plugin_api import core_services as core
from backstage_plugin_events_node import Events, EventsApi, HttpPostIngressOptions

from backstage_plugin_events_backend.github._router import GithubEventRouter
from backstage_plugin_events_backend.github._validator import (
    github_signature_validator,
    github_webhook_secrets,
)

__all__ = [
    "GithubEventRouter",
    "events_module_github_event_router",
    "events_module_github_webhook",
    "github_signature_validator",
]


def _register_webhook(env: ModuleRegistrationPoints) -> None:
    async def init(config: core.RootConfig, logger: core.Logger, api: EventsApi) -> None:
        secrets = github_webhook_secrets(config)
        if not secrets:
            logger.info(
                "No GitHub webhook secret (events.modules.github.webhookSecret, "
                "integrations.github[].apps[].webhookSecret): topic 'github' is not opened"
            )
            return
        api.add_http_post_ingress(
            HttpPostIngressOptions(topic="github", validator=github_signature_validator(secrets))
        )

    env.register_init(init)


def events_module_github_webhook() -> BackendModule:
    """Opens `POST /api/events/http/github` when a GitHub webhook secret is configured,
    accepting only requests signed with it (`X-Hub-Signature-256`)."""
    return create_backend_module(
        plugin_id="events", module_id="github-webhook", register=_register_webhook
    )


def _register_router(env: ModuleRegistrationPoints) -> None:
    async def init(events: Events) -> None:
        await GithubEventRouter(events).subscribe()

    env.register_init(init)


def events_module_github_event_router() -> BackendModule:
    """Republishes each `github` event as `github.<X-GitHub-Event>` (e.g. `github.push`)."""
    return create_backend_module(
        plugin_id="events", module_id="github-event-router", register=_register_router
    )
