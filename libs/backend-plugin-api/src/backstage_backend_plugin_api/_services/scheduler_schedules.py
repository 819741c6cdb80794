"""Task schedules from code or config, checked up front with errors naming the field.

Config follows Backstage's `schedule:` blocks, read by
`read_scheduler_service_task_schedule_definition_from_config`:

```yaml
schedule:
  frequency: { minutes: 5 }   # or 'PT5M', { cron: '*/5 * * * *' }, { trigger: manual }
  timeout: { minutes: 3 }     # or 'PT3M'
  initialDelay: { seconds: 15 }
  scope: global               # or local
```
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from backstage_common.config import Config, ConfigError
from backstage_common.durations import parse_duration, read_duration
from backstage_common.errors import InputError
from croniter import croniter

from backstage_backend_plugin_api._services.scheduler import (
    CronFrequency,
    ManualTrigger,
    ScheduleFrequency,
    SchedulerServiceTaskScheduleDefinition,
    TaskScope,
)

__all__ = [
    "cron_problem",
    "read_scheduler_service_task_schedule_definition_from_config",
    "task_schedule_definition",
]

_SCOPES: tuple[TaskScope, ...] = ("global", "local")


def cron_problem(expression: str) -> str | None:
    """Why `expression` is not a 5 or 6 field cron expression, or None when it is one."""
    fields = expression.split()
    if len(fields) not in (5, 6):
        return f"'{expression}' has {len(fields)} fields, a cron expression needs 5 or 6"
    if not croniter.is_valid(expression, second_at_beginning=len(fields) == 6):
        return f"'{expression}' is not a valid cron expression"
    return None


def _looks_like_cron(value: str) -> bool:
    """Durations have at most two words (`'5 minutes'`); anything more is meant as cron."""
    return len(value.split()) >= 3 or "*" in value


def _cron(expression: str, key: str) -> CronFrequency:
    problem = cron_problem(expression)
    if problem is not None:
        raise InputError(f"Invalid cron expression at '{key}': {problem}")
    return CronFrequency(" ".join(expression.split()))


def _positive(value: timedelta, key: str) -> timedelta:
    if value <= timedelta(0):
        raise InputError(f"Invalid duration at '{key}': it must be longer than zero")
    return value


def _frequency(value: object, key: str) -> timedelta | CronFrequency | ManualTrigger:
    if isinstance(value, CronFrequency):
        return _cron(value.cron, f"{key}.cron")
    if isinstance(value, ManualTrigger) or (isinstance(value, str) and value.strip() == "manual"):
        return ManualTrigger()
    if isinstance(value, str) and _looks_like_cron(value):
        return _cron(value, key)
    if isinstance(value, timedelta):
        return _positive(value, key)
    return _positive(parse_duration(value, key=key), key)


def _duration(value: object, key: str) -> timedelta:
    if isinstance(value, timedelta):
        return _positive(value, key)
    return _positive(parse_duration(value, key=key), key)


def _scope(value: object, key: str) -> TaskScope:
    for scope in _SCOPES:
        if value == scope:
            return scope
    raise InputError(f"Invalid scope at '{key}': got {value!r}, use 'global' or 'local'")


def task_schedule_definition(
    *,
    frequency: ScheduleFrequency,
    timeout: timedelta | str,
    initial_delay: timedelta | str | None = None,
    scope: TaskScope = "global",
    key: str = "",
) -> SchedulerServiceTaskScheduleDefinition:
    """A checked schedule; a string frequency is a cron expression (5 or 6 fields),
    `'manual'`, or a duration (`'PT5M'`, `'5m'`), as are string durations.

    Raises InputError naming the field (`<key>.<field>` when `key` is given).

    Args:
        frequency: how often the task runs (see `ScheduleFrequency`).
        timeout: how long a run may take before it is aborted.
        initial_delay: how long to wait before the first run; None: run at once.
        scope: `global` (once across replicas) or `local`.
        key: where the values came from, to name in errors (e.g. a config key).
    """

    def at(field: str) -> str:
        return f"{key}.{field}" if key else field

    delay = None if initial_delay is None else _duration(initial_delay, at("initialDelay"))
    if delay == timedelta(0):
        delay = None
    return SchedulerServiceTaskScheduleDefinition(
        frequency=_frequency(frequency, at("frequency")),
        timeout=_duration(timeout, at("timeout")),
        initial_delay=delay,
        scope=_scope(scope, at("scope")),
    )


def _config_error(config: Config, key: str, error: InputError) -> ConfigError:
    context = config.context_of(key)
    source = "" if context is None else f" in '{context}'"
    return ConfigError(f"{error.message}{source}")


def _read_frequency(config: Config) -> timedelta | CronFrequency | ManualTrigger:
    value = config.get("frequency")
    full = config.full_key("frequency")
    if isinstance(value, Mapping) and "cron" in value:
        cron = config.get("frequency.cron")
        if not isinstance(cron, str) or len(value) != 1:
            raise ConfigError(
                f"Invalid frequency at '{full}': use {{cron: '<expression>'}} with a string"
            )
        try:
            return _cron(cron, f"{full}.cron")
        except InputError as error:
            raise _config_error(config, "frequency.cron", error) from None
    if isinstance(value, Mapping) and "trigger" in value:
        if value.get("trigger") != "manual" or len(value) != 1:
            raise ConfigError(
                f"Invalid frequency at '{full}': the only trigger is {{trigger: manual}}"
            )
        return ManualTrigger()
    if isinstance(value, str) and _looks_like_cron(value):
        try:
            return _cron(value, full)
        except InputError as error:
            raise _config_error(config, "frequency", error) from None
    return _read_positive(config, "frequency")


def _read_positive(config: Config, key: str) -> timedelta:
    duration = read_duration(config, key)
    if duration <= timedelta(0):
        raise ConfigError(
            f"Invalid duration at '{config.full_key(key)}': it must be longer than zero"
        )
    return duration


def read_scheduler_service_task_schedule_definition_from_config(
    config: Config,
) -> SchedulerServiceTaskScheduleDefinition:
    """A schedule from a `schedule:` block (`config` is that block, not the root).

    Reads `frequency` (a duration such as `{minutes: 5}` or `'PT5M'`, `{cron: ...}`, or
    `{trigger: manual}`), `timeout`, and the optional `initialDelay` and `scope`. Errors
    are ConfigErrors (InputErrors) naming the full key and its file.

    Args:
        config: the `schedule:` block, e.g. `config.get_config("catalog.schedule")`.
    """
    frequency = _read_frequency(config)
    timeout = _read_positive(config, "timeout")
    initial_delay = _read_positive(config, "initialDelay") if config.has("initialDelay") else None
    scope_value = config.get_optional_string("scope") or "global"
    try:
        scope = _scope(scope_value, config.full_key("scope"))
    except InputError as error:
        raise _config_error(config, "scope", error) from None
    return SchedulerServiceTaskScheduleDefinition(
        frequency=frequency, timeout=timeout, initial_delay=initial_delay, scope=scope
    )
