"""backstage_plugin_events_backend: the events plugin (`/api/events`).

`events_plugin()` serves webhook ingress (`POST /http/<topic>` for `events.http.topics`
and the topics modules open) and the event bus other backends' events services use
(`/bus/v1`). `events_features()` is the plugin with the GitHub and GitLab webhook
modules and sub-topic routers, as a unit installs it.
"""

from backstage_backend_plugin_api import BackendFeature

from backstage_plugin_events_backend._ingress import (
    UnsupportedCharsetError,
    UnsupportedMediaTypeError,
    json_parser,
)
from backstage_plugin_events_backend._pg_store import PostgresEventBusStore
from backstage_plugin_events_backend._plugin import events_plugin
from backstage_plugin_events_backend._store import EventBusStore, MemoryEventBusStore
from backstage_plugin_events_backend.github import (
    GithubEventRouter,
    events_module_github_event_router,
    events_module_github_webhook,
    github_signature_validator,
)
from backstage_plugin_events_backend.gitlab import (
    GitlabEventRouter,
    events_module_gitlab_event_router,
    events_module_gitlab_webhook,
    gitlab_token_validator,
)

__all__ = [
    "EventBusStore",
    "GithubEventRouter",
    "GitlabEventRouter",
    "MemoryEventBusStore",
    "PostgresEventBusStore",
    "UnsupportedCharsetError",
    "UnsupportedMediaTypeError",
    "events_features",
    "events_module_github_event_router",
    "events_module_github_webhook",
    "events_module_gitlab_event_router",
    "events_module_gitlab_webhook",
    "events_plugin",
    "github_signature_validator",
    "gitlab_token_validator",
    "json_parser",
]


def events_features() -> list[BackendFeature]:
    """The events plugin with its GitHub and GitLab webhook modules and routers (each
    webhook topic opens only when its secret is configured)."""
    return [
        events_plugin(),
        events_module_github_webhook(),
        events_module_github_event_router(),
        events_module_gitlab_webhook(),
        events_module_gitlab_event_router(),
    ]
