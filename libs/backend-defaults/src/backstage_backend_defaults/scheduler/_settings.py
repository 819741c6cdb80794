"""A task's stored settings (Backstage's version 2 shape) and when it runs next."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import isodate  # type: ignore[import-untyped]
from backstage_backend_plugin_api import (
    CronFrequency,
    ManualTrigger,
    SchedulerServiceTaskScheduleDefinition,
)
from croniter import croniter

__all__ = ["TaskSettings", "iso_duration", "next_cron_time"]

MANUAL = "manual"


def iso_duration(value: timedelta) -> str:
    text: str = isodate.duration_isoformat(value)
    return text


def next_cron_time(expression: str, after: datetime) -> datetime:
    """The first time strictly after `after` that matches `expression` (UTC)."""
    seconds_first = len(expression.split()) == 6
    following: datetime = croniter(
        expression, after.astimezone(UTC), second_at_beginning=seconds_first
    ).get_next(datetime)
    return following.astimezone(UTC)


@dataclass(frozen=True)
class TaskSettings:
    """`cadence` is a cron expression, `manual`, or an ISO 8601 duration."""

    cadence: str
    timeout: timedelta
    initial_delay: timedelta | None = None

    @classmethod
    def from_schedule(cls, schedule: SchedulerServiceTaskScheduleDefinition) -> TaskSettings:
        frequency = schedule.frequency
        if isinstance(frequency, CronFrequency):
            cadence = frequency.cron
        elif isinstance(frequency, ManualTrigger):
            cadence = MANUAL
        else:
            cadence = iso_duration(frequency)
        return cls(cadence, schedule.timeout, schedule.initial_delay)

    @classmethod
    def from_json(cls, text: str) -> TaskSettings:
        """Raises ValueError when `text` is not version 2 settings."""
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("version") != 2:
            raise ValueError(f"unsupported task settings {text!r}")
        cadence = data.get("cadence")
        if not isinstance(cadence, str) or not cadence:
            raise ValueError(f"task settings without a cadence: {text!r}")
        delay = data.get("initialDelayDuration")
        return cls(
            cadence,
            isodate.parse_duration(data["timeoutAfterDuration"]),
            None if delay is None else isodate.parse_duration(delay),
        )

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "version": 2,
            "cadence": self.cadence,
            "timeoutAfterDuration": iso_duration(self.timeout),
        }
        if self.initial_delay is not None:
            data["initialDelayDuration"] = iso_duration(self.initial_delay)
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @property
    def is_manual(self) -> bool:
        return self.cadence == MANUAL

    @property
    def period(self) -> timedelta | None:
        """The fixed period of a duration cadence; None for cron and manual tasks."""
        if not self.cadence.startswith("P"):
            return None
        period: timedelta = isodate.parse_duration(self.cadence)
        return period

    def first_run(self, now: datetime) -> datetime | None:
        """When a newly registered task runs first; None for manual tasks."""
        if self.is_manual:
            return None
        if self.initial_delay is not None:
            return now + self.initial_delay
        if self.period is not None:
            return now
        return next_cron_time(self.cadence, now)

    def next_run(self, now: datetime, *, slot: datetime | None) -> datetime | None:
        """When to run after a run of `slot` ended at `now`.

        Durations run at a fixed rate (`slot + period`), never earlier than now, so a
        late run is not followed by a burst of catch-up runs.
        """
        if self.is_manual:
            return None
        period = self.period
        if period is None:
            return next_cron_time(self.cadence, now)
        return now + period if slot is None else max(slot + period, now)

    def next_run_after_change(
        self, now: datetime, *, last_ended: datetime | None
    ) -> datetime | None:
        """When to run once the cadence changed: a task that ran within its new period
        does not run again before the period is over."""
        if self.is_manual:
            return None
        period = self.period
        if period is None:
            return next_cron_time(self.cadence, now)
        return now if last_ended is None else max(last_ended + period, now)
