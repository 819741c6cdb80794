"""The supervisor as a process of its own: `backstage-py start` execs it (same pid) once it
has read the unit's config, so that the supervisor holds none of the backend's modules
(about 20 MiB resident instead of 100).

Run as `python -m backstage_cli._supervisor_process` with its plan, as JSON, in
`BACKSTAGE_SUPERVISOR_PLAN`: the workers' command, their specs, the stop timeout and how
to log.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from backstage_cli._supervisor import Supervisor, WorkerSpec

__all__ = ["PLAN_ENV", "LineLog", "exec_supervisor"]

PLAN_ENV = "BACKSTAGE_SUPERVISOR_PLAN"


class LineLog:
    """One line per entry on standard output, as the backend's root logger writes them
    (`json` lines or `text`), with `fields` on each."""

    def __init__(
        self,
        fields: Mapping[str, object],
        *,
        json_lines: bool,
        info: bool,
        write: Callable[[str], object] = sys.stdout.write,
    ) -> None:
        self._fields = dict(fields)
        self._json = json_lines
        self._info = info
        self._write = write

    def _line(self, level: str, message: str, error: BaseException | None) -> None:
        now = time.time()
        stamp = (
            time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"
        )
        if self._json:
            entry: dict[str, object] = {"timestamp": stamp, "level": level, "message": message}
            entry.update(self._fields)
            if error is not None:
                entry["error"] = repr(error)
            text = json.dumps(entry, ensure_ascii=False)
        else:
            fields = " ".join(f"{key}={value}" for key, value in self._fields.items())
            text = f"{stamp} {level} {message} {fields}" + (f" error={error!r}" if error else "")
        self._write(text + "\n")
        sys.stdout.flush()

    def info(self, message: str) -> None:
        if self._info:
            self._line("info", message, None)

    def error(self, message: str, error: BaseException | None = None) -> None:
        self._line("error", message, error)


def exec_supervisor(
    command: Sequence[str],
    specs: Sequence[WorkerSpec],
    *,
    stop_timeout: float,
    log: Mapping[str, Any],
) -> None:
    """Replace this process with the supervisor of `specs` (never returns). `log` holds the
    log lines' `fields`, `json` (bool) and `info` (whether info lines are written)."""
    plan = {
        "command": list(command),
        "specs": [{"index": s.index, "role": s.role, "env": dict(s.env)} for s in specs],
        "stop_timeout": stop_timeout,
        "log": dict(log),
    }
    env = {**os.environ, PLAN_ENV: json.dumps(plan)}
    sys.stdout.flush()
    sys.stderr.flush()
    argv = [sys.executable, "-m", "backstage_cli._supervisor_process"]
    os.execve(sys.executable, argv, env)


def _run(plan: Mapping[str, Any]) -> int:
    log = plan["log"]
    supervisor = Supervisor(
        plan["command"],
        [WorkerSpec(spec["index"], spec["role"], spec["env"]) for spec in plan["specs"]],
        LineLog(log["fields"], json_lines=log["json"], info=log["info"]),
        stop_timeout=plan["stop_timeout"],
    )
    return asyncio.run(supervisor.run())


if __name__ == "__main__":
    # the workers inherit this environment: the plan is the supervisor's alone
    sys.exit(_run(json.loads(os.environ.pop(PLAN_ENV))))
