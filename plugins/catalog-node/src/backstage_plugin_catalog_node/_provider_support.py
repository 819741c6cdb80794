"""What entity providers share: the Location entity a discovered URL becomes, and the
scheduled full read whose failure keeps what the catalog has."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from typing import Any

from backstage_backend_plugin_api import (
    LoggerService,
    SchedulerService,
    SchedulerServiceTaskScheduleDefinition,
)

__all__ = ["location_spec_to_location_entity", "schedule_provider_refresh"]


def location_spec_to_location_entity(target: str) -> dict[str, Any]:
    """The Location entity Backstage generates for a `url` location spec
    (`locationSpecToLocationEntity` of the catalog's node library).

    Args:
        target: the location's URL.
    """
    key = f"url:{target}"
    return {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Location",
        "metadata": {
            "name": "generated-" + hashlib.sha1(key.encode()).hexdigest(),  # Backstage's naming
            "annotations": {
                "backstage.io/managed-by-location": key,
                "backstage.io/managed-by-origin-location": key,
            },
        },
        "spec": {"type": "url", "target": target, "presence": "optional"},
    }


async def schedule_provider_refresh(
    scheduler: SchedulerService,
    logger: LoggerService,
    *,
    provider_name: str,
    schedule: SchedulerServiceTaskScheduleDefinition,
    read: Callable[[], Awaitable[None]],
    failure: str,
) -> None:
    """Schedule `<provider_name>:refresh`, which runs `read` and logs its failure.

    Args:
        scheduler: the catalog's scheduler.
        logger: where a failed read is logged, as `<provider_name> <failure>: <error>`.
        provider_name: the provider's name, the task id's prefix.
        schedule: when the read runs.
        read: the provider's full read.
        failure: what the log line says failed, e.g. `failed to list projects`.
    """

    async def refresh(abort: asyncio.Event) -> None:
        try:
            await read()
        except Exception as error:  # a failed read keeps what the catalog has
            logger.error(f"{provider_name} {failure}: {error}")

    await scheduler.schedule_task(id=f"{provider_name}:refresh", fn=refresh, schedule=schedule)
