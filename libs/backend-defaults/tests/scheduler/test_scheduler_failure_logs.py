"""A task that keeps failing logs its stack once, then counts: one summary per interval."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from functools import partial
from typing import Any

from backstage_backend_defaults.logger import create_root_logger
from backstage_common.config import Config

RUNS = 12


async def test_a_task_failing_on_every_run_logs_one_trace_and_a_count(cluster: Any) -> None:
    lines: list[bytes] = []
    config = Config.from_data({"backend": {"logging": {"format": "json", "repeatInterval": "1h"}}})
    root = create_root_logger(config, write=lines.append, env={})
    scheduler = cluster.scheduler(logger=root.child({"plugin": "demo"}))
    runs = {"global": 0, "local": 0}
    done = {scope: asyncio.Event() for scope in runs}

    async def fail(scope: str, abort: asyncio.Event) -> None:
        runs[scope] += 1
        if runs[scope] == RUNS:
            done[scope].set()
        raise ConnectionRefusedError(f"connect to 10.0.0.{runs[scope]}:5432 refused")

    for scope in runs:
        await scheduler.schedule_task(
            id=f"{scope}-failing",
            fn=partial(fail, scope),
            frequency=timedelta(milliseconds=20),
            timeout=timedelta(minutes=1),
            scope=scope,
        )
    await asyncio.wait_for(asyncio.gather(*(event.wait() for event in done.values())), 30)
    await scheduler.shutdown()
    root.sink.flush()  # as the backend does at shutdown: the summaries of what was counted
    failures = [entry for entry in map(json.loads, lines) if entry["level"] == "error"]
    for scope in runs:
        logged = [e for e in failures if e["message"].startswith(f"Task {scope}-failing failed")]
        full = [e for e in logged if "stack" in e["error"]]
        [summary] = [e for e in logged if "repeated" in e]
        assert len(full) == 1
        assert "ConnectionRefusedError" in full[0]["error"]["stack"]
        assert summary["repeated"] == runs[scope] - 1
        assert len(logged) == 2
