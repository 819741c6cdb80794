"""Delivery inside one backend: every plugin's subscribers, called directly."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from backstage_backend_plugin_api import LoggerService

from backstage_plugin_events_node._types import EventParams, EventSubscriber

__all__ = ["LocalEventBus"]

_fallback_logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Subscription:
    id: str
    topics: frozenset[str]
    on_event: EventSubscriber


class LocalEventBus:
    """The subscribers of one backend, shared by its plugins' events services.

    Args:
        logger: where a subscriber's error is logged.
    """

    def __init__(self, logger: LoggerService | None = None) -> None:
        self._logger = logger
        self._subscriptions: list[_Subscription] = []

    def subscribe(
        self, subscription_id: str, topics: Sequence[str], on_event: EventSubscriber
    ) -> None:
        """Add a subscriber.

        Args:
            subscription_id: `<pluginId>.<id>`, reported to the bus as notified.
            topics: the topics it receives.
            on_event: the handler.
        """
        self._subscriptions.append(_Subscription(subscription_id, frozenset(topics), on_event))

    async def publish(self, params: EventParams) -> list[str]:
        """Call every subscriber of the event's topic, one after the other; returns the ids
        of the subscriptions called (whether or not their handler failed, as Backstage:
        the event counts as delivered to them)."""
        notified: list[str] = []
        for subscription in list(self._subscriptions):
            if params.topic not in subscription.topics:
                continue
            try:
                await subscription.on_event(params)
            except Exception as error:  # a subscriber's failure must not stop the others
                self._log_failure(subscription.id, params.topic, error)
            notified.append(subscription.id)
        return notified

    def _log_failure(self, subscription_id: str, topic: str, error: Exception) -> None:
        message = f"Subscriber '{subscription_id}' failed to handle an event of topic '{topic}'"
        if self._logger is not None:
            self._logger.warn(message, {"error": repr(error)})
        else:
            _fallback_logger.warning("%s: %r", message, error)
