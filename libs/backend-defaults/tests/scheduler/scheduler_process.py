"""One scheduler replica in its own process; the replica test kills it mid-run.

Usage: python scheduler_process.py '<backend.database config as JSON>'
Prints `started` once its global task `lease` runs, then hangs in that run.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import timedelta

from backstage_backend_defaults.database import DatabaseManager
from backstage_backend_defaults.scheduler import PluginTaskScheduler, SchedulerOptions
from backstage_backend_test_utils import CapturingLogger
from backstage_common.config import Config


async def main(database_config: dict[str, object]) -> None:
    manager = DatabaseManager(Config.from_data({"backend": {"database": database_config}}))
    scheduler = PluginTaskScheduler(
        plugin_id="tasks",
        database=manager.for_plugin("tasks"),
        logger=CapturingLogger("none"),
        options=SchedulerOptions(
            poll_interval=timedelta(milliseconds=50),
            janitor_interval=timedelta(milliseconds=100),
            abort_grace_period=timedelta(milliseconds=500),
        ),
    )

    async def hang(abort: asyncio.Event) -> None:
        print("started", flush=True)
        await asyncio.Event().wait()

    await scheduler.schedule_task(
        id="lease", fn=hang, frequency=timedelta(hours=1), timeout=timedelta(milliseconds=500)
    )
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1])))
