"""What the scheduler calls when something observes the task runs."""

from __future__ import annotations

from typing import Protocol

from backstage_backend_plugin_api import TaskFunction

from backstage_backend_defaults.instrumentation import HookPoint

__all__ = ["TASK_HOOKS", "TaskHooks"]


class TaskHooks(Protocol):
    """Wraps the body of each scheduled task."""

    def wrap(self, plugin_id: str, task_id: str, fn: TaskFunction) -> TaskFunction:
        """The function the scheduler runs in place of `fn` for each run of the task.

        Args:
            plugin_id: The plugin scheduling the task.
            task_id: The task's id.
            fn: The task's body.
        """
        ...


TASK_HOOKS: HookPoint[TaskHooks] = HookPoint("scheduler.tasks")
"""Where task hooks are registered; the scheduler reads it when it is created."""
