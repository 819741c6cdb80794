"""What entity providers share: the scheduled full read and the generated Location entity."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

import pytest
from backstage_backend_plugin_api import SchedulerServiceTaskScheduleDefinition
from backstage_backend_test_utils import CapturingLogger, MockScheduler
from backstage_plugin_catalog_node import (
    EntityProviderConnection,
    EntityProviderMutation,
    ScheduledEntityProvider,
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


@dataclass(frozen=True)
class _Block:
    id: str
    schedule: SchedulerServiceTaskScheduleDefinition


class _Counting(ScheduledEntityProvider[_Block]):
    name_prefix = "Counting"

    def __init__(self, scheduler: MockScheduler, logger: CapturingLogger) -> None:
        super().__init__(_Block("a", HOURLY), scheduler, logger, failure="failed to count")
        self.reads: list[EntityProviderConnection] = []
        self.fail = False

    async def read(self) -> None:
        connection = self._connected()
        if self.fail:
            raise RuntimeError("down")
        self.reads.append(connection)


class _Unused:
    async def apply_mutation(self, mutation: EntityProviderMutation) -> None:
        raise AssertionError("not expected")

    async def refresh(self, keys: Sequence[str]) -> None:
        raise AssertionError("not expected")


async def test_a_scheduled_provider_reads_under_its_name_once_connected() -> None:
    scheduler, logger, connection = MockScheduler(), CapturingLogger(), _Unused()
    provider = _Counting(scheduler, logger)
    assert provider.name == "Counting:a"
    with pytest.raises(RuntimeError, match="Counting:a is not connected"):
        await provider.read()
    await provider.connect(connection)
    await scheduler.trigger_task("Counting:a:refresh")
    provider.fail = True
    await scheduler.trigger_task("Counting:a:refresh")
    assert provider.reads == [connection]
    assert [(e.level, e.message) for e in logger.entries] == [
        ("error", "Counting:a failed to count: down")
    ]
