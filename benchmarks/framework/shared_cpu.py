"""Framework vs bare Litestar under identical machine conditions: both at once, one CPU.

`bench.py` runs the servers one after the other; on a VM whose speed drifts from second to
second that makes the ratio noisy. Here the framework server and the bare server run at the
same time, pinned to the same CPU, each loaded by its own wrk (both wrk on the other CPU).
The kernel shares the CPU between the two busy servers, so the ratio of their requests/s is
the inverse ratio of their CPU cost per request, measured under the same conditions. Both
servers run cache-cold (they evict each other), so this isolates the instructions executed;
`bench.py` also sees each server's cache behaviour alone. Report both.

Run: `uv run python benchmarks/framework/shared_cpu.py [--rounds 5] [--duration 6]`
(needs wrk). Prints one line per round and a JSON line with the medians.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TOKEN = "bench-static-token"
_RPS = re.compile(r"Requests/sec:\s+([\d.]+)")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_listening(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"no server listening on port {port} after {timeout} s")


def _server(kind: str, port: int, cpu: int, log_level: str) -> subprocess.Popen[bytes]:
    args = [sys.executable, str(HERE / "server.py"), kind, "--port", str(port), "--cpu", str(cpu)]
    if kind == "framework":
        args += ["--token", TOKEN, "--log-level", log_level]
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _wrk(port: int, cpu: int, duration: int, connections: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            "taskset", "-c", str(cpu), "wrk", "-t1", f"-c{connections}", f"-d{duration}s",
            "-H", f"Authorization: Bearer {TOKEN}",
            f"http://127.0.0.1:{port}/api/bench/ping",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip


def _rps(process: subprocess.Popen[str]) -> float:
    out, _ = process.communicate(timeout=120)
    match = _RPS.search(out)
    if match is None or "Non-2xx" in out:
        raise SystemExit(f"wrk failed or got errors:\n{out}")
    return float(match.group(1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, choices=range(1, 21))
    parser.add_argument("--duration", type=int, default=6, choices=range(1, 61))
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--log-level", default="info", choices=["info", "warn"])
    parser.add_argument("--server-cpu", type=int, default=1)
    parser.add_argument("--wrk-cpu", type=int, default=0)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install -y wrk")
    framework_port, bare_port = _free_port(), _free_port()
    servers = [
        _server("framework", framework_port, args.server_cpu, args.log_level),
        _server("bare", bare_port, args.server_cpu, args.log_level),
    ]
    ratios: list[float] = []
    try:
        _wait_listening(framework_port)
        _wait_listening(bare_port)
        time.sleep(1.0)
        for round_number in range(1, args.rounds + 1):
            loads = [
                _wrk(port, args.wrk_cpu, args.duration, args.connections)
                for port in (framework_port, bare_port)
            ]
            framework_rps, bare_rps = (_rps(load) for load in loads)
            ratios.append(framework_rps / bare_rps)
            print(
                f"round {round_number}: framework {framework_rps:.0f} req/s, "
                f"bare {bare_rps:.0f} req/s, ratio {ratios[-1]:.3f}",
                flush=True,
            )
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
    summary = {
        "shared_cpu_ratio_median": round(statistics.median(ratios), 3),
        "shared_cpu_ratio_rounds": [round(ratio, 3) for ratio in ratios],
        "log_level": args.log_level,
        "rounds": args.rounds,
        "duration_s": args.duration,
        "connections_each": args.connections,
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
