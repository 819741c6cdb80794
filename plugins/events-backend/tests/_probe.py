"""A plugin that records the events of the topics it subscribes to."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from backstage_backend_plugin_api import (
    BackendPlugin,
    PluginRegistrationPoints,
    create_backend_plugin,
)
from backstage_plugin_events_node import EventParams, Events


class Recorder:
    def __init__(self) -> None:
        self.events: list[EventParams] = []
        self._changed = asyncio.Condition()

    async def record(self, params: EventParams) -> None:
        async with self._changed:
            self.events.append(params)
            self._changed.notify_all()

    def topics(self) -> list[str]:
        return [event.topic for event in self.events]

    async def wait_for(self, count: int, timeout: float = 10.0) -> list[EventParams]:
        async with self._changed:
            await asyncio.wait_for(
                self._changed.wait_for(lambda: len(self.events) >= count), timeout
            )
        return list(self.events)


def probe_plugin(
    recorder: Recorder, topics: Sequence[str], plugin_id: str = "probe"
) -> BackendPlugin:
    def register(env: PluginRegistrationPoints) -> None:
        async def init(events: Events) -> None:
            await events.subscribe(id="recorder", topics=list(topics), on_event=recorder.record)

        env.register_init(init)

    return create_backend_plugin(plugin_id=plugin_id, register=register)
