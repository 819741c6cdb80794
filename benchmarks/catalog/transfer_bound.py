"""The fastest any server could answer a response of a given size, as `load.py` measures it.

A minimal HTTP server (one process, uvloop, the whole response prebuilt in memory and
handed to the kernel in one write) answers every request with the same body, and
`load.py`'s own client and driver load it exactly as they load the catalog: keep-alive
connections at a fixed concurrency, every byte read. No server does less work per request,
so its latency is a floor for the catalog's on the same machine: if the floor is above a
latency target, no implementation can meet that target for a response of that size.

Run (with the body of the users list at 100,000 entities, 16.6 MB, or any file):
  uv run python benchmarks/catalog/transfer_bound.py --bytes 16600000
  uv run python benchmarks/catalog/transfer_bound.py --body-file users.json
Prints one JSON line: requests/s and p50/p95/p99 in ms, with the CPU share of each side.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import socket
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from load import LoadError, Response, Target, Workload, drive, ms, percentile

HOST = "127.0.0.1"


class _Answer(asyncio.Protocol):
    """Answers each request head it receives with the prebuilt response."""

    def __init__(self, response: bytes) -> None:
        self.response = response
        self.pending = b""
        self.transport: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # uvloop's transports are not `asyncio.Transport`s

    def data_received(self, data: bytes) -> None:
        self.pending += data
        while b"\r\n\r\n" in self.pending:
            _, self.pending = self.pending.split(b"\r\n\r\n", 1)
            self.transport.write(self.response)


def _serve(listener: socket.socket, body: bytes) -> None:
    import uvloop

    head = (
        f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    response = head + body

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: _Answer(response), sock=listener)
        await server.serve_forever()

    uvloop.run(main())


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _measure(port: int, options: argparse.Namespace, pid: int) -> dict[str, Any]:
    target = Target(HOST, port, "", "unused")

    async def get(conn: Any, _: Any) -> Response:
        return await conn.request("GET", "/")

    async def no_check(_target: Target, _gzip: bool) -> None:
        return None

    workload = Workload("transfer", get, no_check)
    await drive(target, workload, options.concurrency, options.warmup, False, 1)
    client_before, server_before = time.process_time(), _cpu_seconds(pid)
    run = await drive(target, workload, options.concurrency, options.duration, False, 1)
    client_cpu, server_cpu = time.process_time() - client_before, _cpu_seconds(pid) - server_before
    if run.errors:
        raise LoadError(f"{run.errors} failed requests, first: {run.first_error}")
    requests = len(run.latencies)
    return {
        "bytes": run.bytes // max(1, requests),
        "concurrency": options.concurrency,
        "rps": round(requests / run.elapsed, 1),
        "p50_ms": ms(percentile(run.latencies, 50)),
        "p95_ms": ms(percentile(run.latencies, 95)),
        "p99_ms": ms(percentile(run.latencies, 99)),
        "requests": requests,
        "client_cpu_share": round(client_cpu / run.elapsed, 2),
        "server_cpu_share": round(server_cpu / run.elapsed, 2),
        "cpus": os.cpu_count(),
    }


def parse_options(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    body = parser.add_mutually_exclusive_group(required=True)
    body.add_argument("--bytes", type=int, help="a JSON body of this many bytes")
    body.add_argument("--body-file", type=Path, help="serve this file's bytes")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(argv)
    if options.body_file is not None:
        body = options.body_file.read_bytes()
    else:
        item = b'{"kind":"User","metadata":{"name":"someone"}},'
        body = b"[" + item * max(0, (options.bytes - 2) // len(item))
        body = body.rstrip(b",") + b"]"
    listener = socket.socket()
    listener.bind((HOST, 0))
    listener.listen(128)
    port = listener.getsockname()[1]
    server = multiprocessing.get_context("fork").Process(
        target=_serve, args=(listener, body), daemon=True
    )
    server.start()
    listener.close()
    try:
        import uvloop

        assert server.pid is not None
        figures = uvloop.run(_measure(port, options, server.pid))
    except LoadError as error:
        print(f"transfer_bound.py: {error}", file=sys.stderr)
        return 1
    finally:
        server.terminate()
        server.join()
    print(json.dumps(figures, separators=(",", ":")), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
