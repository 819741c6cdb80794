"""Ordered lifecycle hooks whose failures are logged, never raised."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable
from dataclasses import dataclass

from backstage_backend_plugin_api import LifecycleHook, LoggerService
from backstage_common.errors import ConflictError

__all__ = ["HookList"]


@dataclass(frozen=True)
class _Hook:
    fn: LifecycleHook
    logger: LoggerService


class HookList:
    """Hooks of one phase; they run once, in order or in reverse order of registration."""

    def __init__(self, phase: str, default_logger: LoggerService) -> None:
        self._phase = phase
        self._logger = default_logger
        self._hooks: list[_Hook] = []
        self._done = False

    def add(self, fn: LifecycleHook, logger: LoggerService | None) -> None:
        if self._done:
            raise ConflictError(f"Attempted to add {self._phase} hook after {self._phase}")
        self._hooks.append(_Hook(fn, logger or self._logger))

    async def run(self, *, reverse: bool = False, deadline: float | None = None) -> None:
        """Run each hook; with a `deadline` (event loop time), a hook still running then is
        cancelled and the rest run in turn (each then gets a moment at most, to let go of
        what it holds), so that the phase ends in time whatever a hook waits for."""
        if self._done:
            return
        self._done = True
        for hook in reversed(self._hooks) if reverse else self._hooks:
            try:
                result = hook.fn()
                if inspect.isawaitable(result):
                    if deadline is None:
                        await result
                    else:
                        await self._await_until(result, deadline, hook.logger)
            except Exception as error:
                hook.logger.error(f"{self._phase.capitalize()} hook failed, {error}", error)

    async def _await_until(
        self, result: Awaitable[object], deadline: float, logger: LoggerService
    ) -> None:
        timeout = asyncio.timeout_at(deadline)
        try:
            async with timeout:
                await result
        except TimeoutError:
            if not timeout.expired():
                raise  # the hook's own timeout: a failure like any other
            logger.warn(
                f"{self._phase.capitalize()} hook did not finish within "
                "backend.lifecycle.shutdownTimeout and was cancelled"
            )
