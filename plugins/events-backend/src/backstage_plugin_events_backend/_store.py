"""The bus's storage contract and its in-memory store (any database but PostgreSQL)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from backstage_common.errors import NotFoundError

__all__ = ["BusEvent", "EventBusStore", "MemoryEventBusStore", "TopicWaiters"]

MAX_READ = 10


@dataclass(frozen=True)
class BusEvent:
    """An event as the bus returns it: no metadata, as Backstage."""

    topic: str
    payload: Any


class EventBusStore(Protocol):
    """Where the bus keeps events and subscriptions."""

    async def publish(
        self, *, topic: str, payload: Any, notified_subscribers: Sequence[str], created_by: str
    ) -> bool:
        """Store the event if a subscription not yet notified takes its topic; whether it
        was stored."""
        ...

    async def upsert_subscription(self, *, id: str, topics: Sequence[str], created_by: str) -> None:
        """Create the subscription (reading from the newest event on) or replace its topics."""
        ...

    async def read_subscription(self, id: str) -> list[BusEvent]:
        """Up to 10 unread events, oldest first, the pointer moved past them; NotFoundError
        for an unknown subscription."""
        ...

    async def topics_of(self, id: str) -> list[str]:
        """The subscription's topics; NotFoundError for an unknown one."""
        ...

    def waiters(self) -> TopicWaiters:
        """Wake-ups on publishes of topics, from any replica the store reaches."""
        ...

    async def cleanup(self) -> None:
        """Drop old events and abandoned subscriptions."""
        ...

    async def close(self) -> None:
        """Release what the store holds (connections)."""
        ...


class TopicWaiters:
    """Long polls waiting for a publish of one of their topics."""

    def __init__(self) -> None:
        self._waiting: list[tuple[frozenset[str], asyncio.Event]] = []

    def register(self, topics: Sequence[str]) -> asyncio.Event:
        """An event set on the next publish of any of `topics`; `release` it when done."""
        wake = asyncio.Event()
        self._waiting.append((frozenset(topics), wake))
        return wake

    def release(self, wake: asyncio.Event) -> None:
        """Stop waiting."""
        self._waiting = [entry for entry in self._waiting if entry[1] is not wake]

    def __len__(self) -> int:
        return len(self._waiting)

    def wake_all(self) -> None:
        """Wake every poll (the backend is stopping: held polls must not hold it up)."""
        for _topics, wake in self._waiting:
            wake.set()

    def notify(self, topic: str) -> None:
        """Wake every poll waiting for `topic`."""
        for topics, wake in self._waiting:
            if topic in topics:
                wake.set()


@dataclass
class _Subscription:
    topics: list[str]
    read_until: int
    created_by: str


@dataclass
class _StoredEvent:
    id: int
    topic: str
    payload: Any
    notified: frozenset[str]


@dataclass
class MemoryEventBusStore:
    """The bus in this process alone, as Backstage's memory store: the newest 1000 events.

    Args:
        max_events: how many events it keeps.
    """

    max_events: int = 1000
    _events: list[_StoredEvent] = field(default_factory=list)
    _subscriptions: dict[str, _Subscription] = field(default_factory=dict)
    _next_id: int = 1
    _waiters: TopicWaiters = field(default_factory=TopicWaiters)

    async def publish(
        self, *, topic: str, payload: Any, notified_subscribers: Sequence[str], created_by: str
    ) -> bool:
        notified = frozenset(notified_subscribers)
        if not any(
            topic in subscription.topics and id not in notified
            for id, subscription in self._subscriptions.items()
        ):
            return False
        self._events.append(_StoredEvent(self._next_id, topic, payload, notified))
        self._next_id += 1
        del self._events[: -self.max_events]
        self._waiters.notify(topic)
        return True

    async def upsert_subscription(self, *, id: str, topics: Sequence[str], created_by: str) -> None:
        existing = self._subscriptions.get(id)
        if existing is not None:
            existing.topics = list(topics)
            return
        self._subscriptions[id] = _Subscription(list(topics), self._next_id - 1, created_by)

    async def read_subscription(self, id: str) -> list[BusEvent]:
        subscription = self._subscription(id)
        selected = [
            event
            for event in self._events
            if event.id > subscription.read_until
            and event.topic in subscription.topics
            and id not in event.notified
        ][:MAX_READ]
        if selected:
            subscription.read_until = selected[-1].id
        return [BusEvent(event.topic, event.payload) for event in selected]

    async def topics_of(self, id: str) -> list[str]:
        return list(self._subscription(id).topics)

    def waiters(self) -> TopicWaiters:
        return self._waiters

    async def cleanup(self) -> None:
        return None  # the list is bounded on publish

    async def close(self) -> None:
        return None

    def _subscription(self, id: str) -> _Subscription:
        subscription = self._subscriptions.get(id)
        if subscription is None:
            raise NotFoundError(f"Subscription '{id}' not found")
        return subscription
