"""Task schedules from config, as `readSchedulerServiceTaskScheduleDefinitionFromConfig`.

`frequency`: `{cron: '*/5 * * * *'}`, `{trigger: manual}` or a duration; `timeout`: a
duration; `initialDelay`: an optional duration; `scope`: `global` or `local`.
"""

from __future__ import annotations

from datetime import timedelta

from backstage_backend_plugin_api import (
    CronFrequency,
    ManualTrigger,
    SchedulerServiceTaskScheduleDefinition,
    TaskScope,
)
from backstage_common.config import Config
from backstage_common.durations import parse_duration
from backstage_common.errors import InputError

__all__ = ["read_schedule"]


def _frequency(config: Config, key: str) -> timedelta | CronFrequency | ManualTrigger:
    value = config.get(f"{key}.frequency")
    if isinstance(value, dict) and "cron" in value:
        return CronFrequency(config.get_string(f"{key}.frequency.cron"))
    if isinstance(value, dict) and "trigger" in value:
        if value["trigger"] != "manual":
            raise InputError(f"Invalid {key}.frequency.trigger: only 'manual' is supported")
        return ManualTrigger()
    return parse_duration(value, key=config.full_key(f"{key}.frequency"))


def _scope(config: Config, key: str) -> TaskScope:
    scope = config.get_optional_string(f"{key}.scope") or "global"
    if scope == "global":
        return "global"
    if scope == "local":
        return "local"
    raise InputError(f"Invalid {config.full_key(key)}.scope '{scope}': use global or local")


def read_schedule(
    config: Config, key: str, default: SchedulerServiceTaskScheduleDefinition
) -> SchedulerServiceTaskScheduleDefinition:
    """The schedule at `key`, or `default` when the key is absent."""
    if not config.has(key):
        return default
    initial_delay = config.get_optional(f"{key}.initialDelay")
    return SchedulerServiceTaskScheduleDefinition(
        frequency=_frequency(config, key),
        timeout=parse_duration(config.get(f"{key}.timeout"), key=config.full_key(f"{key}.timeout")),
        initial_delay=None
        if initial_delay is None
        else parse_duration(initial_delay, key=config.full_key(f"{key}.initialDelay")),
        scope=_scope(config, key),
    )
