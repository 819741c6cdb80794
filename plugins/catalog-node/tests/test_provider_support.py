"""What entity providers share: the scheduled full read and the generated Location entity."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from backstage_backend_plugin_api import SchedulerServiceTaskScheduleDefinition
from backstage_backend_test_utils import CapturingLogger, MockScheduler
from backstage_plugin_catalog_node import (
    location_spec_to_location_entity,
    schedule_provider_refresh,
)

HOURLY = SchedulerServiceTaskScheduleDefinition(
    frequency=timedelta(hours=1), timeout=timedelta(minutes=5)
)


async def test_the_refresh_task_runs_the_read_under_the_providers_name() -> None:
    scheduler, logger, reads = MockScheduler(), CapturingLogger(), []

    async def read() -> None:
        reads.append("read")

    await schedule_provider_refresh(
        scheduler, logger, provider_name="p:a", schedule=HOURLY, read=read, failure="failed"
    )
    assert [task.id for task in await scheduler.get_scheduled_tasks()] == ["p:a:refresh"]
    await scheduler.trigger_task("p:a:refresh")
    await scheduler.trigger_task("p:a:refresh")
    assert reads == ["read", "read"]
    assert logger.entries == []


async def test_a_failed_read_is_logged_and_the_next_run_still_reads() -> None:
    scheduler, logger, outcomes = MockScheduler(), CapturingLogger(), [RuntimeError("down"), None]

    async def read() -> None:
        outcome = outcomes.pop(0)
        if outcome is not None:
            raise outcome

    await schedule_provider_refresh(
        scheduler,
        logger,
        provider_name="p:a",
        schedule=HOURLY,
        read=read,
        failure="failed to list projects",
    )
    await scheduler.trigger_task("p:a:refresh")
    await scheduler.trigger_task("p:a:refresh")
    assert outcomes == []
    assert [(e.level, e.message) for e in logger.entries] == [
        ("error", "p:a failed to list projects: down")
    ]


def test_the_location_entity_is_named_and_annotated_as_backstage_generates_it() -> None:
    target = "https://github.com/acme/a/blob/main/catalog-info.yaml"
    entity = location_spec_to_location_entity(target)
    assert entity["metadata"]["name"] == (
        "generated-" + hashlib.sha1(f"url:{target}".encode()).hexdigest()
    )
    assert entity["metadata"]["annotations"] == {
        "backstage.io/managed-by-location": f"url:{target}",
        "backstage.io/managed-by-origin-location": f"url:{target}",
    }
    assert entity["kind"] == "Location"
    assert entity["spec"] == {"type": "url", "target": target, "presence": "optional"}
