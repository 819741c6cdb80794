"""core.scheduler: recurring tasks per plugin, global ones run once across replicas.

Global tasks (the default scope) are coordinated through the plugin's own database, in
Backstage's `backstage_backend_tasks__tasks` table: every replica polls the task's row and
the one whose conditional update sets `current_run_ticket` runs it, holding the lease until
`current_run_expires_at` (start + timeout). A janitor releases leases past their timeout,
so when the replica running a task dies another one takes over. Local tasks run in every
process. Each plugin serves `/api/<pluginId>/.backstage/scheduler/v1/tasks` behind the
default auth policy.

Config `backend.scheduler` (durations): `pollInterval` (5s), `janitorInterval` (1m),
`abortGracePeriod` (5s, how long an aborted run may take to return before it is cancelled).
A process with `backend.worker.role: serve` (a unit's serving worker) registers its global
tasks but runs none: the unit's background worker, or another unit, runs them.
"""

from __future__ import annotations

from dataclasses import dataclass

from backstage_backend_plugin_api import SchedulerService, create_service_factory
from backstage_backend_plugin_api import core_services as core

from backstage_backend_defaults.instrumentation import InstrumentationDep
from backstage_backend_defaults.scheduler._hooks import TASK_HOOKS, TaskHooks
from backstage_backend_defaults.scheduler._options import SchedulerOptions, read_scheduler_options
from backstage_backend_defaults.scheduler._router import scheduler_route_handlers
from backstage_backend_defaults.scheduler._scheduler import PluginTaskScheduler
from backstage_backend_defaults.scheduler._settings import TaskSettings
from backstage_backend_defaults.scheduler._table import TASKS_TABLE

__all__ = [
    "TASKS_TABLE",
    "TASK_HOOKS",
    "PluginTaskScheduler",
    "SchedulerOptions",
    "TaskHooks",
    "TaskSettings",
    "read_scheduler_options",
    "scheduler_route_handlers",
    "scheduler_service_factory",
]


@dataclass(frozen=True)
class _SchedulerContext:
    options: SchedulerOptions
    hooks: TaskHooks | None


def _read_options(
    config: core.RootConfig, instrumentation: InstrumentationDep
) -> _SchedulerContext:
    return _SchedulerContext(read_scheduler_options(config), instrumentation.get(TASK_HOOKS))


def _create_scheduler(
    context: _SchedulerContext,
    database: core.Database,
    logger: core.Logger,
    lifecycle: core.Lifecycle,
    metadata: core.PluginMetadata,
    router: core.HttpRouter,
) -> SchedulerService:
    scheduler = PluginTaskScheduler(
        plugin_id=metadata.get_id(),
        database=database,
        logger=logger,
        options=context.options,
        instruments=context.hooks,
    )
    router.use(*scheduler_route_handlers(scheduler))
    lifecycle.add_shutdown_hook(scheduler.shutdown)
    return scheduler


scheduler_service_factory = create_service_factory(
    service=core.scheduler,
    factory=_create_scheduler,
    create_root_context=_read_options,
    initialization="always",
)
