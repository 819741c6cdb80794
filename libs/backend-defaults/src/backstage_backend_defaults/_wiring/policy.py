"""What a failing plugin or module does to startup: abort it, or log and continue."""

from __future__ import annotations

from typing import Literal

from backstage_backend_plugin_api import RootConfigService
from backstage_common.errors import InputError

__all__ = ["BootFailurePolicy"]

Action = Literal["abort", "continue"]


def _read_action(config: RootConfigService, key: str, fallback: Action) -> Action:
    value = config.get_optional_string(key)
    if value is None:
        return fallback
    if value not in ("abort", "continue"):
        raise InputError(f"Invalid value '{value}' for '{key}', use 'abort' or 'continue'")
    return "abort" if value == "abort" else "continue"


class BootFailurePolicy:
    """Reads `backend.startup.*` as Backstage does; `abort` is the default."""

    def __init__(self, config: RootConfigService) -> None:
        self._config = config
        self._plugin_default = _read_action(
            config, "backend.startup.default.onPluginBootFailure", "abort"
        )
        self._module_default = _read_action(
            config, "backend.startup.default.onPluginModuleBootFailure", "abort"
        )

    def plugin(self, plugin_id: str) -> Action:
        return _read_action(
            self._config,
            f"backend.startup.plugins.{plugin_id}.onPluginBootFailure",
            self._plugin_default,
        )

    def module(self, plugin_id: str, module_id: str) -> Action:
        return _read_action(
            self._config,
            f"backend.startup.plugins.{plugin_id}.modules.{module_id}.onPluginModuleBootFailure",
            self._module_default,
        )
