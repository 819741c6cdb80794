"""`backend.eventLoopLag`: how often the event loop is probed and when a lag is reported."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from backstage_backend_plugin_api import RootConfigService
from backstage_common.durations import read_optional_duration
from backstage_common.errors import InputError

__all__ = ["LagMonitorSettings", "read_lag_monitor_settings"]

_KEY = "backend.eventLoopLag"


@dataclass(frozen=True)
class LagMonitorSettings:
    """Seconds: between two probes, the lag that is warned about, and the least time
    between two warnings (0: every lag over the threshold is logged)."""

    interval: float = 0.02
    warn_threshold: float = 0.1
    warn_interval: float = 10.0


def _seconds(config: RootConfigService, name: str, default: float, *, zero: bool) -> float:
    value = read_optional_duration(config, f"{_KEY}.{name}")
    if value is None:
        return default
    if value == timedelta(0) and not zero:
        raise InputError(f"Invalid '{_KEY}.{name}': it must be longer than 0")
    return value.total_seconds()


def read_lag_monitor_settings(config: RootConfigService) -> LagMonitorSettings | None:
    """The monitor's settings; None when `backend.eventLoopLag.enabled` is false."""
    if config.get_optional_boolean(f"{_KEY}.enabled") is False:
        return None
    defaults = LagMonitorSettings()
    return LagMonitorSettings(
        interval=_seconds(config, "interval", defaults.interval, zero=False),
        warn_threshold=_seconds(config, "warnThreshold", defaults.warn_threshold, zero=False),
        warn_interval=_seconds(config, "warnInterval", defaults.warn_interval, zero=True),
    )
