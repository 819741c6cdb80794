"""backstage_plugin_events_node: what plugins and modules use of the events plugin.

`events_service_ref` (`Events` to inject): publish events and subscribe to topics, in
this backend and, through the events plugin's bus, across backends and replicas.
`events_extension_point`: events-plugin modules open webhook topics (with their
validators) and add body parsers.
"""

from backstage_plugin_events_node._bus_client import NOTIFY_TIMEOUT_HEADER, EventBusClient
from backstage_plugin_events_node._default import (
    DefaultEventsService,
    events_service_factory,
    read_bus_mode,
)
from backstage_plugin_events_node._extension_point import (
    EventsApi,
    EventsExtensionPoint,
    events_extension_point,
)
from backstage_plugin_events_node._local import LocalEventBus
from backstage_plugin_events_node._service import Events, EventsService, events_service_ref
from backstage_plugin_events_node._types import (
    EventParams,
    EventSubscriber,
    HttpBodyParser,
    HttpPostIngressOptions,
    ParsedBody,
    RawBody,
    RequestDetails,
    RequestRejectionDetails,
    RequestValidationContext,
    RequestValidator,
)

__all__ = [
    "NOTIFY_TIMEOUT_HEADER",
    "DefaultEventsService",
    "EventBusClient",
    "EventParams",
    "EventSubscriber",
    "Events",
    "EventsApi",
    "EventsExtensionPoint",
    "EventsService",
    "HttpBodyParser",
    "HttpPostIngressOptions",
    "LocalEventBus",
    "ParsedBody",
    "RawBody",
    "RequestDetails",
    "RequestRejectionDetails",
    "RequestValidationContext",
    "RequestValidator",
    "events_extension_point",
    "events_service_factory",
    "events_service_ref",
    "read_bus_mode",
]
