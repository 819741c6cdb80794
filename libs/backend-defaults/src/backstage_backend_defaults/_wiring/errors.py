"""Errors raised while wiring and starting a backend."""

from __future__ import annotations

from dataclasses import dataclass

from backstage_common.errors import BackstageError

__all__ = ["BackendStartupError", "FeatureStartupFailure", "ServiceInstantiationError"]


@dataclass(frozen=True)
class FeatureStartupFailure:
    plugin_id: str
    module_id: str | None
    error: BaseException

    def describe(self) -> str:
        if self.module_id is None:
            return f"Plugin '{self.plugin_id}' startup failed; caused by {self.error}"
        return (
            f"Module '{self.module_id}' for plugin '{self.plugin_id}' startup failed; "
            f"caused by {self.error}"
        )


class BackendStartupError(BackstageError):
    """One or more plugins or modules failed to start; `failures` lists each."""

    def __init__(self, failures: list[FeatureStartupFailure]) -> None:
        self.failures = failures
        lines = "\n".join(f"  {failure.describe()}" for failure in failures)
        super().__init__(f"Backend startup failed:\n{lines}")


class ServiceInstantiationError(BackstageError):
    """A service could not be built: a factory failed or a dependency is missing."""
