"""What OpenTelemetry costs per request: the framework with telemetry off, with tracing on,
and with tracing and metrics on, measured in one run under the same machine conditions.

The approach of `shared_cpu.py`: the servers run at the same time, pinned to the same CPU,
each loaded by its own wrk (every wrk on the other CPU), so the kernel shares one CPU
between them and the ratio of their requests/s is the inverse ratio of their CPU cost per
request. Noise from other processes on a shared machine hits every variant alike; the
load average is printed with each round so a noisy run shows.

- `off`: the default backend (no OTEL variables: no provider, the plain request path);
- `traces`: a span per request (and the request log line with its trace and span ids),
  each span handed to a no-op exporter as it ends;
- `all`: `traces` plus the metrics (request duration histogram per plugin and route);
- `sampled`: `traces` with `OTEL_TRACES_SAMPLER=parentbased_traceidratio`, ratio 0.1.

Run: `uv run python benchmarks/framework/telemetry_overhead.py [--rounds 5] [--duration 6]`
(needs wrk). Prints one line per round and a JSON line with the medians; the overhead is
`1 - ratio` (the share of throughput lost). Target: under 15 %. Each server's CPU time per
request (from /proc, wrk's request count estimated from its requests/s) is printed too: a
second view of the same cost that does not depend on the servers being CPU-bound. With few
connections per server (8) the servers idle between wrk's requests on a busy machine and
the request rates stay equal whatever each costs: the default is 48 connections each.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from shared_cpu import _free_port, _rps, _wait_listening, _wrk

HERE = Path(__file__).resolve().parent
TOKEN = "bench-static-token"
VARIANTS = ("off", "traces", "all", "sampled")


def _server(
    variant: str, port: int, cpu: int, log_level: str, processor: str
) -> subprocess.Popen[bytes]:
    args = [
        sys.executable, str(HERE / "server.py"), "framework", "--port", str(port),
        "--cpu", str(cpu), "--token", TOKEN, "--log-level", log_level, "--telemetry", variant,
        "--span-processor", processor,
    ]  # fmt: skip
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _load_average() -> str:
    return Path("/proc/loadavg").read_text().split(" ", 1)[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, choices=range(1, 21))
    parser.add_argument("--duration", type=int, default=6, choices=range(1, 61))
    parser.add_argument("--connections", type=int, default=48)
    parser.add_argument("--log-level", default="info", choices=["info", "warn"])
    parser.add_argument(
        "--span-processor",
        default="simple",
        choices=["simple", "batch"],
        help="how ended spans reach the no-op exporter: one by one as they end (simple, as "
        "tests export), or in batches from a worker thread (batch, as the OTLP exporters)",
    )
    parser.add_argument("--server-cpu", type=int, default=1)
    parser.add_argument("--wrk-cpu", type=int, default=0)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install -y wrk")
    ports = {variant: _free_port() for variant in VARIANTS}
    servers = [
        _server(v, ports[v], args.server_cpu, args.log_level, args.span_processor) for v in VARIANTS
    ]
    rounds: list[dict[str, float]] = []
    cpu_rounds: list[dict[str, float]] = []
    loads: list[str] = []
    try:
        for port in ports.values():
            _wait_listening(port)
        time.sleep(1.0)
        for number in range(1, args.rounds + 1):
            before = _load_average()
            pids = {variant: server.pid for variant, server in zip(VARIANTS, servers, strict=True)}
            cpu_before = {variant: _cpu_seconds(pid) for variant, pid in pids.items()}
            runs = {
                v: _wrk(ports[v], args.wrk_cpu, args.duration, args.connections) for v in VARIANTS
            }
            rps = {variant: _rps(run) for variant, run in runs.items()}
            cpu_rounds.append(
                {
                    variant: (_cpu_seconds(pid) - cpu_before[variant])
                    / (rps[variant] * args.duration)
                    * 1e6
                    for variant, pid in pids.items()
                }
            )
            loads.append(f"{before}->{_load_average()}")
            rounds.append(rps)
            print(
                f"round {number}: "
                + ", ".join(f"{v} {rps[v]:.0f} req/s" for v in VARIANTS)
                + "; "
                + ", ".join(f"{v}/off {rps[v] / rps['off']:.3f}" for v in VARIANTS[1:])
                + "; CPU/req "
                + ", ".join(f"{v} {cpu_rounds[-1][v]:.0f} us" for v in VARIANTS)
                + f"; load average {loads[-1]}",
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
    summary: dict[str, object] = {}
    for variant in VARIANTS[1:]:
        ratios = [each[variant] / each["off"] for each in rounds]
        median = statistics.median(ratios)
        summary[f"{variant}_ratio_median"] = round(median, 3)
        summary[f"{variant}_overhead_pct"] = round((1 - median) * 100, 1)
        summary[f"{variant}_ratio_rounds"] = [round(ratio, 3) for ratio in ratios]
    summary["off_rps_median"] = round(statistics.median(each["off"] for each in rounds))
    for variant in VARIANTS:
        summary[f"{variant}_cpu_us_per_req_median"] = round(
            statistics.median(each[variant] for each in cpu_rounds), 1
        )
    summary.update(
        load_average_rounds=loads,
        log_level=args.log_level,
        span_processor=args.span_processor,
        rounds=args.rounds,
        duration_s=args.duration,
        connections_each=args.connections,
    )
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
