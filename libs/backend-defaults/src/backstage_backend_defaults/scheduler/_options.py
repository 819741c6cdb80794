"""`backend.scheduler`: how often workers poll, and how long aborted runs may take."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from backstage_backend_plugin_api import RootConfigService
from backstage_common.config import ConfigError
from backstage_common.durations import read_optional_duration
from backstage_common.worker_role import runs_background_work

__all__ = ["SchedulerOptions", "read_scheduler_options"]


@dataclass(frozen=True)
class SchedulerOptions:
    poll_interval: timedelta = timedelta(seconds=5)
    """How often a worker looks for a due global task, and checks the lease of its run."""
    janitor_interval: timedelta = timedelta(minutes=1)
    """How often leases past their timeout are released, so another worker can run."""
    abort_grace_period: timedelta = timedelta(seconds=5)
    """How long an aborted run may take to return before it is cancelled."""
    run_global_tasks: bool = True
    """Whether this process runs global tasks; a serving worker (`backend.worker.role:
    serve`) only registers them, and leaves their runs to the unit's background worker."""


def read_scheduler_options(config: RootConfigService) -> SchedulerOptions:
    defaults = SchedulerOptions()

    def read(name: str, default: timedelta, *, minimum: timedelta) -> timedelta:
        key = f"backend.scheduler.{name}"
        value = read_optional_duration(config, key)
        if value is None:
            return default
        if value < minimum:
            raise ConfigError(
                f"Invalid duration at '{key}': it must be at least {minimum.total_seconds()}s"
            )
        return value

    return SchedulerOptions(
        poll_interval=read(
            "pollInterval", defaults.poll_interval, minimum=timedelta(milliseconds=10)
        ),
        janitor_interval=read(
            "janitorInterval", defaults.janitor_interval, minimum=timedelta(milliseconds=10)
        ),
        abort_grace_period=read(
            "abortGracePeriod", defaults.abort_grace_period, minimum=timedelta(0)
        ),
        run_global_tasks=runs_background_work(config),
    )
