"""The scheduler's operator API under `/api/<pluginId>/.backstage/scheduler/v1/tasks`."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from backstage_backend_defaults.auth import auth_service_factory, http_auth_service_factory
from backstage_backend_defaults.scheduler import PluginTaskScheduler, scheduler_service_factory
from backstage_backend_plugin_api import (
    ManualTrigger,
    PluginRegistrationPoints,
    create_backend_plugin,
)
from backstage_backend_plugin_api import core_services as core
from backstage_backend_test_utils import start_test_backend

TOKEN = "scheduler-operator-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CONFIG = {
    "backend": {
        "auth": {
            "externalAccess": [{"type": "static", "options": {"token": TOKEN, "subject": "ops"}}]
        },
        "scheduler": {"pollInterval": "50ms", "janitorInterval": "100ms"},
    }
}
TASKS = "/api/tasks/.backstage/scheduler/v1/tasks"


def tasks_plugin(failed: asyncio.Event) -> Any:
    async def report(abort: asyncio.Event) -> None:
        failed.set()
        raise RuntimeError("the report source is down")

    async def refresh(abort: asyncio.Event) -> None:
        return None

    def register(env: PluginRegistrationPoints) -> None:
        async def init(scheduler: core.Scheduler) -> None:
            await scheduler.schedule_task(
                id="report", fn=report, frequency=ManualTrigger(), timeout=timedelta(minutes=1)
            )
            await scheduler.schedule_task(
                id="refresh",
                fn=refresh,
                frequency="0 3 * * *",
                timeout="PT10M",
                initial_delay="PT1H",
                scope="local",
            )

        env.register_init(init)

    return create_backend_plugin(plugin_id="tasks", register=register)


async def test_operators_see_tasks_with_last_and_next_runs_behind_the_auth_policy() -> None:
    failed = asyncio.Event()
    features = [
        auth_service_factory,
        http_auth_service_factory,
        scheduler_service_factory,
        tasks_plugin(failed),
    ]
    async with start_test_backend(features=features, config=CONFIG) as backend:
        client = backend.client
        anonymous = await client.get(TASKS)
        assert anonymous.status_code == 401
        assert anonymous.json()["error"]["name"] == "AuthenticationError"
        assert (await client.post(f"{TASKS}/report/trigger")).status_code == 401

        listed = await client.get(TASKS, headers=AUTH)
        assert listed.status_code == 200
        tasks = {task["taskId"]: task for task in listed.json()["tasks"]}
        assert tasks["report"]["pluginId"] == "tasks"
        assert tasks["report"]["scope"] == "global"
        assert tasks["report"]["settings"] == {
            "version": 2,
            "cadence": "manual",
            "timeoutAfterDuration": "PT1M",
        }
        assert tasks["report"]["taskState"] == {"status": "idle"}
        assert tasks["refresh"]["scope"] == "local"
        assert tasks["refresh"]["workerState"] == {"status": "initial-wait"}
        assert tasks["refresh"]["taskState"]["status"] == "idle"
        assert "startsAt" in tasks["refresh"]["taskState"]

        triggered = await client.post(f"{TASKS}/report/trigger", headers=AUTH)
        assert triggered.status_code == 200
        await asyncio.wait_for(failed.wait(), 30)
        scheduler = await backend.get_service(core.scheduler, "tasks")
        assert isinstance(scheduler, PluginTaskScheduler)
        worker = scheduler.global_worker("report")
        assert worker is not None
        await asyncio.wait_for(worker.polled(1), 30)

        report = next(
            task
            for task in (await client.get(TASKS, headers=AUTH)).json()["tasks"]
            if task["taskId"] == "report"
        )
        assert report["workerState"] == {"status": "idle"}
        assert report["taskState"]["status"] == "idle"
        assert "lastRunEndedAt" in report["taskState"]
        assert "the report source is down" in report["taskState"]["lastRunError"]

        missing = await client.post(f"{TASKS}/missing/trigger", headers=AUTH)
        assert missing.status_code == 404
        assert missing.json()["error"] == {
            "name": "NotFoundError",
            "message": "Task missing does not exist",
        }
        idle = await client.post(f"{TASKS}/report/cancel", headers=AUTH)
        assert idle.status_code == 409
        assert idle.json()["error"]["name"] == "ConflictError"
