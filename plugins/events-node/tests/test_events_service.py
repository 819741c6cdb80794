"""The events service inside one backend: every plugin's subscribers of a topic are called,
a failing one does not stop the others, and the bus is told who was notified."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from backstage_backend_plugin_api import (
    BackendPlugin,
    PluginRegistrationPoints,
    create_backend_plugin,
)
from backstage_backend_test_utils import start_test_backend
from backstage_common.errors import InputError
from backstage_plugin_events_node import (
    DefaultEventsService,
    EventParams,
    Events,
    EventsService,
    LocalEventBus,
    events_service_ref,
)


async def test_local_delivery_by_topic_with_failures_isolated() -> None:
    local = LocalEventBus()
    seen: list[tuple[str, str]] = []

    async def failing(params: EventParams) -> None:
        raise RuntimeError("boom")

    def recording(name: str):  # type: ignore[no-untyped-def]
        async def record(params: EventParams) -> None:
            seen.append((name, params.topic))

        return record

    catalog = DefaultEventsService(local=local, plugin_id="catalog")
    search = DefaultEventsService(local=local, plugin_id="search")
    await catalog.subscribe(id="broken", topics=["t"], on_event=failing)
    await catalog.subscribe(id="a", topics=["t", "u"], on_event=recording("catalog.a"))
    await search.subscribe(id="b", topics=["u"], on_event=recording("search.b"))

    notified = await local.publish(EventParams(topic="t", event_payload={}))
    assert notified == ["catalog.broken", "catalog.a"]
    await search.publish(EventParams(topic="u", event_payload={}))
    await search.publish(EventParams(topic="nobody", event_payload={}))
    assert seen == [("catalog.a", "t"), ("catalog.a", "u"), ("search.b", "u")]


@pytest.mark.parametrize(("id", "topics"), [("", ["t"]), ("x", [])])
async def test_subscription_needs_id_and_topics(id: str, topics: Sequence[str]) -> None:
    service = DefaultEventsService(local=LocalEventBus(), plugin_id="catalog")

    async def handler(params: EventParams) -> None:
        return None

    with pytest.raises(InputError):
        await service.subscribe(id=id, topics=topics, on_event=handler)


def _publisher(events_seen: list[EventParams]) -> tuple[BackendPlugin, BackendPlugin]:
    def register_sub(env: PluginRegistrationPoints) -> None:
        async def init(events: Events) -> None:
            async def record(params: EventParams) -> None:
                events_seen.append(params)

            await events.subscribe(id="rec", topics=["hello"], on_event=record)

        env.register_init(init)

    def register_pub(env: PluginRegistrationPoints) -> None:
        async def init(events: Events) -> None:
            return None

        env.register_init(init)

    return (
        create_backend_plugin(plugin_id="subscriber", register=register_sub),
        create_backend_plugin(plugin_id="publisher", register=register_pub),
    )


async def test_default_factory_without_an_events_plugin_delivers_in_process() -> None:
    """No events plugin in the backend: the bus answers 404 and mode `auto` stops using it,
    while plugins of the backend still reach each other."""
    seen: list[EventParams] = []
    subscriber, publisher = _publisher(seen)
    async with start_test_backend(features=[subscriber, publisher]) as test:
        service: EventsService = await test.get_service(events_service_ref, "publisher")
        await service.publish(EventParams(topic="hello", event_payload=[1], metadata={"a": "b"}))
        await service.publish(EventParams(topic="hello", event_payload=[2]))
    assert [event.event_payload for event in seen] == [[1], [2]]
    assert seen[0].metadata == {"a": "b"}


async def test_use_event_bus_is_checked() -> None:
    seen: list[EventParams] = []
    subscriber, _ = _publisher(seen)
    with pytest.raises(Exception, match=r"events\.useEventBus"):
        async with start_test_backend(
            features=[subscriber], config={"events": {"useEventBus": "sometimes"}}
        ):
            pass
