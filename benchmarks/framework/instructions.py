"""Instructions per request, counted by callgrind: the framework's cost, free of machine load.

On a shared VM, timings drift with whatever else runs; the number of instructions a request
executes does not. This script builds the backend of `breakdown.py` (request log to /dev/null
through the default batching writer) and a bare Litestar app, drives their ASGI callables
in-process, and counts the instructions of each case under callgrind:

- `bare`: the bare Litestar app;
- `full`: the whole framework, static token (the request log, gzip's `Vary`, the gate);
- `full_public`: the whole framework, a route allowed without credentials;
- `no_gzip`: `full` with `backend.compression.enabled: false`;
- `no_log`: `full` with the log level at warn (no request log line);
- `no_gzip_no_log`: both.

Request log lines wait in the batching writer and are formatted when their batch is written;
each case writes out what is still held before its count ends, so a line's cost is counted
wherever it is spent. Note that under callgrind a request takes milliseconds: every line
gets a timestamp and a duration of its own, where a busy server's lines share them.

The differences say where the framework's instructions go: `full - no_log` is the request
log line, `full - no_gzip` the compression layer, `no_gzip_no_log - bare` the rest (path,
gate, static token, in-flight tracking, status recorder). Only the Python side of a request
is counted: the server's (granian's Rust side, the system calls) is the same for all.

Run: `uv run python benchmarks/framework/instructions.py [--requests 1000]` (needs valgrind:
`apt-get install -y valgrind`; about a minute).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import breakdown
from backstage_backend_defaults import create_backend
from backstage_backend_defaults.logger import BatchingWriter, create_root_logger
from backstage_backend_plugin_api import RootLoggerService, create_service_factory
from backstage_backend_plugin_api import core_services as core
from bench_plugin import bench_plugin, framework_config

HERE = Path(__file__).resolve().parent
_TOTALS = re.compile(r"^totals: (\d+)$", re.MULTILINE)
_TRIGGER = re.compile(r"^desc: Trigger: dump (\S+)$", re.MULTILINE)


def _control(*args: str) -> None:
    """Sends a command to callgrind and waits for it. Callgrind reads its commands while
    the program runs, so this process keeps returning from short sleeps meanwhile."""
    command = subprocess.Popen(
        ["callgrind_control", *args, str(os.getpid())], stdout=subprocess.DEVNULL
    )
    while command.poll() is None:
        time.sleep(0.001)


def _root_logger(config: core.RootConfig) -> RootLoggerService:
    # The default writer, which batches lines, to /dev/null.
    return create_root_logger(config, write=BatchingWriter(os.open(os.devnull, os.O_WRONLY)))


def _nothing() -> None:
    return None


async def _framework(level: str, compression: bool) -> tuple[Any, Callable[[], None]]:
    """The framework's ASGI callable, and what writes out the log lines it holds."""
    config = framework_config(breakdown._free_port(), breakdown.TOKEN, level)
    if not compression:
        config["backend"]["compression"] = {"enabled": False}
    backend = create_backend(config_data=config)
    backend.add(create_service_factory(service=core.root_logger, factory=_root_logger))
    backend.add(bench_plugin())
    await backend.start()
    http: Any = await backend.get_service(core.root_http_router)
    logger: Any = await backend.get_service(core.root_logger)
    return http.router.asgi, logger.sink.flush


async def _count(requests: int) -> None:
    """Runs inside callgrind: each case warmed up, then counted alone and dumped."""
    ping = breakdown.make_scope(breakdown.PING, breakdown.TOKEN)
    public = breakdown.make_scope(breakdown.PUBLIC_PING, None)
    full, full_flush = await _framework("info", compression=True)
    no_gzip, no_gzip_flush = await _framework("info", compression=False)
    no_log, no_log_flush = await _framework("warn", compression=True)
    neither, neither_flush = await _framework("warn", compression=False)
    cases = {
        "bare": (
            breakdown.asgi_case(breakdown.bare_app(), breakdown.make_scope(breakdown.PING, None)),
            _nothing,
        ),
        "full": (breakdown.asgi_case(full, ping), full_flush),
        "full_public": (breakdown.asgi_case(full, public), full_flush),
        "no_gzip": (breakdown.asgi_case(no_gzip, ping), no_gzip_flush),
        "no_log": (breakdown.asgi_case(no_log, ping), no_log_flush),
        "no_gzip_no_log": (breakdown.asgi_case(neither, ping), neither_flush),
    }
    for name, (case, flush) in cases.items():
        for _ in range(300):
            await case()
        flush()
        _control("--zero")
        _control("--instr=on")
        for _ in range(requests):
            await case()
        # The lines still held are written inside the count: whatever a request's line
        # costs, in the request or in the batch's write, is counted.
        flush()
        _control("--instr=off")
        _control(f"--dump={name}")


def _report(folder: Path, requests: int) -> dict[str, float]:
    counts: dict[str, float] = {}
    for path in folder.iterdir():
        text = path.read_text(errors="replace")
        name, totals = _TRIGGER.search(text), _TOTALS.search(text)
        if name is not None and totals is not None:
            counts[name.group(1)] = int(totals.group(1)) / requests
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1000, help="requests counted per case")
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    requests = max(100, min(args.requests, 100_000))
    if args.inside:
        import uvloop

        uvloop.run(_count(requests))
        return 0
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        print("needs valgrind (apt-get install -y valgrind)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="framework-instructions-") as tmp:
        folder = Path(tmp)
        command = ["valgrind", "--tool=callgrind", "--instr-atstart=no"]
        command += [f"--callgrind-out-file={folder}/callgrind.%p", sys.executable, __file__]
        command += ["--inside", "--requests", str(requests)]
        subprocess.run(command, check=True, cwd=HERE, stderr=subprocess.DEVNULL)
        counts = _report(folder, requests)
    bare = counts["bare"]
    print(f"instructions per request (Python side, callgrind, {requests} requests per case):")
    for name in ("bare", "full", "full_public", "no_gzip", "no_log", "no_gzip_no_log"):
        value = counts[name]
        print(f"  {name:<16} {value:9.0f}  ({value / bare:5.1%} of bare)")
    print("where the framework's instructions go:")
    print(f"  request log line      {counts['full'] - counts['no_log']:7.0f}")
    print(f"  compression layer     {counts['full'] - counts['no_gzip']:7.0f}")
    print(f"  path, gate, the rest  {counts['no_gzip_no_log'] - bare:7.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
