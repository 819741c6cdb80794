"""Task schedules from code and from config, with errors naming the offending key."""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from backstage_backend_plugin_api import (
    CronFrequency,
    ManualTrigger,
    SchedulerServiceTaskScheduleDefinition,
    read_scheduler_service_task_schedule_definition_from_config,
    task_schedule_definition,
)
from backstage_common.config import Config, ConfigError
from backstage_common.errors import InputError
from mypy import api


def read(schedule: dict[str, Any]) -> SchedulerServiceTaskScheduleDefinition:
    config = Config.from_data({"catalog": {"schedule": schedule}}, "app-config.yaml")
    block = config.get_config("catalog.schedule")
    return read_scheduler_service_task_schedule_definition_from_config(block)


def test_backstage_schedule_shapes_are_read_from_config() -> None:
    assert read({"frequency": {"minutes": 5}, "timeout": {"minutes": 3}}) == (
        SchedulerServiceTaskScheduleDefinition(
            frequency=timedelta(minutes=5), timeout=timedelta(minutes=3)
        )
    )
    assert read(
        {"frequency": "PT5M", "timeout": "PT1M", "initialDelay": {"seconds": 15}, "scope": "local"}
    ) == SchedulerServiceTaskScheduleDefinition(
        frequency=timedelta(minutes=5),
        timeout=timedelta(minutes=1),
        initial_delay=timedelta(seconds=15),
        scope="local",
    )
    assert read({"frequency": {"cron": "*/5 * * * *"}, "timeout": "PT1M"}).frequency == (
        CronFrequency("*/5 * * * *")
    )
    assert read({"frequency": {"cron": "*/10 * * * * *"}, "timeout": "PT1M"}).frequency == (
        CronFrequency("*/10 * * * * *")
    )
    manual = read({"frequency": {"trigger": "manual"}, "timeout": "PT1M", "scope": "global"})
    assert (manual.frequency, manual.scope) == (ManualTrigger(), "global")


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        (
            {"frequency": {"cron": "*/5 * * *"}, "timeout": "PT1M"},
            "Invalid cron expression at 'catalog.schedule.frequency.cron': '*/5 * * *' has 4 "
            "fields, a cron expression needs 5 or 6 in 'app-config.yaml'",
        ),
        (
            {"frequency": {"cron": "0 25 * * *"}, "timeout": "PT1M"},
            "Invalid cron expression at 'catalog.schedule.frequency.cron': '0 25 * * *' is not "
            "a valid cron expression",
        ),
        (
            {"frequency": {"trigger": "sometimes"}, "timeout": "PT1M"},
            "Invalid frequency at 'catalog.schedule.frequency': the only trigger is",
        ),
        (
            {"frequency": "PT5Q", "timeout": "PT1M"},
            "Invalid duration at 'catalog.schedule.frequency'",
        ),
        (
            {"frequency": {"minutes": 5, "fortnights": 1}, "timeout": "PT1M"},
            "Invalid duration at 'catalog.schedule.frequency.fortnights'",
        ),
        ({"frequency": "PT5M"}, "catalog.schedule.timeout"),
        (
            {"frequency": "PT5M", "timeout": {"minutes": 0}},
            "Invalid duration at 'catalog.schedule.timeout': it must be longer than zero",
        ),
        (
            {"frequency": "PT5M", "timeout": "PT1M", "initialDelay": "later"},
            "Invalid duration at 'catalog.schedule.initialDelay'",
        ),
        (
            {"frequency": "PT5M", "timeout": "PT1M", "scope": "cluster"},
            "Invalid scope at 'catalog.schedule.scope': got 'cluster', use 'global' or 'local' "
            "in 'app-config.yaml'",
        ),
    ],
)
def test_invalid_config_schedules_name_the_key(schedule: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        read(schedule)
    assert isinstance(raised.value, InputError)
    assert message in str(raised.value)


def test_schedules_in_code_accept_strings_and_name_the_field() -> None:
    assert task_schedule_definition(
        frequency="0 3 * * *", timeout="PT10M", initial_delay="30s", scope="local"
    ) == SchedulerServiceTaskScheduleDefinition(
        frequency=CronFrequency("0 3 * * *"),
        timeout=timedelta(minutes=10),
        initial_delay=timedelta(seconds=30),
        scope="local",
    )
    assert task_schedule_definition(frequency="manual", timeout=timedelta(1)).frequency == (
        ManualTrigger()
    )
    with pytest.raises(InputError, match=r"Invalid cron expression at 'frequency\.cron'"):
        task_schedule_definition(frequency=CronFrequency("* * *"), timeout="PT1M")
    with pytest.raises(InputError, match="Invalid duration at 'timeout'"):
        task_schedule_definition(frequency="PT1M", timeout="-PT1M")


PLUGIN = """
from datetime import timedelta

from backstage_backend_plugin_api import CronFrequency, core_services as core


async def init(scheduler: core.Scheduler) -> None:
    async def task(abort: object) -> None: ...

    {use}
"""


def test_schedule_task_takes_a_schedule_or_its_fields_and_mypy_checks_them(
    tmp_path: Path,
) -> None:
    path = tmp_path / "plugin.py"
    cache = Path(tempfile.gettempdir()) / "backstage-py-typing-test-mypy-cache"
    good = (
        'await scheduler.schedule_task(id="a", fn=task, frequency=CronFrequency("* * * * *"), '
        'timeout=timedelta(minutes=1), initial_delay="PT5S", scope="local")\n'
        '    await scheduler.schedule_task(id="b", fn=task, frequency="PT5M", timeout="PT1M")'
    )
    path.write_text(PLUGIN.replace("{use}", good))
    stdout, _, status = api.run(["--strict", "--cache-dir", str(cache), str(path)])
    assert status == 0, stdout
    bad = 'await scheduler.schedule_task(id="c", fn=task, frequency=5, timeout="PT1M", scope="x")'
    path.write_text(PLUGIN.replace("{use}", bad))
    stdout, _, status = api.run(["--strict", "--cache-dir", str(cache), str(path)])
    assert status == 1
    assert 'No overload variant of "schedule_task" of "SchedulerService"' in stdout
