"""The scheduler's HTTP API for operators, under each plugin's `/api/<pluginId>`."""

from __future__ import annotations

from typing import Any

from litestar import get, post
from litestar.params import FromPath
from litestar.types import ControllerRouterHandler

from backstage_backend_defaults.scheduler._scheduler import PluginTaskScheduler

__all__ = ["scheduler_route_handlers"]

_TASKS = "/.backstage/scheduler/v1/tasks"


def scheduler_route_handlers(scheduler: PluginTaskScheduler) -> list[ControllerRouterHandler]:
    """`GET .../tasks` lists this process's tasks with their last and next runs;
    `POST .../tasks/<id>/trigger` and `.../cancel` act on one task."""

    @get(_TASKS)
    async def list_tasks() -> dict[str, Any]:
        return {"tasks": await scheduler.describe_tasks()}

    @post(_TASKS + "/{task_id:str}/trigger", status_code=200)
    async def trigger_task(task_id: FromPath[str]) -> None:
        await scheduler.trigger_task(task_id)

    @post(_TASKS + "/{task_id:str}/cancel", status_code=200)
    async def cancel_task(task_id: FromPath[str]) -> None:
        await scheduler.cancel_task(task_id)

    return [list_tasks, trigger_task, cancel_task]
