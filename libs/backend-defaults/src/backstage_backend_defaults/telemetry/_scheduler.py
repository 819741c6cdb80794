"""Each scheduled task run: a span of its own (the root of a trace) and counted runs."""

from __future__ import annotations

import asyncio

from backstage_backend_plugin_api import TaskFunction
from opentelemetry.context import Context
from opentelemetry.metrics import Meter
from opentelemetry.trace import StatusCode, Tracer

__all__ = ["TaskInstruments"]


class TaskInstruments:
    """Wraps task bodies: span `task <id>` and `backstage.scheduler.task.runs` by result
    (`succeeded`, `failed`, `aborted`)."""

    def __init__(self, tracer: Tracer | None, meter: Meter | None) -> None:
        self._tracer = tracer
        self._runs = None
        if meter is not None:
            self._runs = meter.create_counter(
                "backstage.scheduler.task.runs",
                description="Scheduled task runs per plugin and task, by result",
            )

    def wrap(self, plugin_id: str, task_id: str, fn: TaskFunction) -> TaskFunction:
        tracer, runs = self._tracer, self._runs
        attributes = {"backstage.plugin_id": plugin_id, "backstage.task_id": task_id}

        async def run(abort: asyncio.Event) -> None:
            result = "failed"
            try:
                if tracer is None:
                    await fn(abort)
                else:
                    # a run starts a trace of its own, whatever was current when it was scheduled
                    with tracer.start_as_current_span(
                        f"task {task_id}", context=Context(), attributes=attributes
                    ) as span:
                        try:
                            await fn(abort)
                        except asyncio.CancelledError:
                            span.set_status(StatusCode.ERROR, "aborted")
                            raise
                result = "succeeded"
            except asyncio.CancelledError:
                result = "aborted"
                raise
            finally:
                if runs is not None:
                    runs.add(1, {**attributes, "backstage.scheduler.task.result": result})

        return run
