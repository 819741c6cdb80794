"""What one container health check costs: the CLI (`backstage-py healthcheck`, a Python start
that imports the command and its dependencies) against the image's script
(`python3 -I -S deploy/image/healthcheck.py`, the standard library's socket only).

Each command runs N times against the readiness endpoint of a running unit; for each run
GNU time (`/usr/bin/time`) records its user + system CPU time and peak resident memory,
the figures `/usr/bin/time -v` prints. Prints medians and the ratios,
then one JSON line.

Run: `uv run python benchmarks/deploy/healthcheck.py` (starts the all unit with the
repository's app-config on a free port), or `--url http://host:port/.backstage/health/v1/readiness`
for a unit that already runs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "deploy/image/healthcheck.py"
READINESS = "/.backstage/health/v1/readiness"
# GNU time, as `/usr/bin/time -v` reports the figures (Debian: apt-get install -y time).
TIME = "/usr/bin/time"


@dataclass(frozen=True)
class Run:
    cpu_seconds: float
    peak_rss_kib: int
    wall_seconds: float
    exit_code: int


def measure(command: list[str], env: dict[str, str]) -> Run:
    """One run under GNU time, which reports the command's own usage (a child forked from
    this large interpreter would be charged part of its memory)."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as report:
        started = time.monotonic()
        subprocess.run(
            [TIME, "-o", report.name, "-f", "%U %S %M %x", *command],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
        wall = time.monotonic() - started
        user, system, peak, code = report.read().split()[-4:]
    return Run(
        cpu_seconds=float(user) + float(system),
        peak_rss_kib=int(peak),
        wall_seconds=wall,
        exit_code=int(code),
    )


def cli() -> str:
    """The backstage-py command beside this interpreter (the workspace's), else on PATH."""
    beside = Path(sys.executable).parent / "backstage-py"
    return str(beside) if beside.exists() else shutil.which("backstage-py") or "backstage-py"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@contextlib.contextmanager
def running_unit() -> Iterator[str]:
    """The all unit, started by the CLI with the repository's app-config."""
    port = free_port()
    env = {
        **os.environ,
        "APP_CONFIG_backend_listen_port": str(port),
        "APP_CONFIG_backend_baseUrl": f"http://127.0.0.1:{port}",
        "LOG_LEVEL": "warn",
    }
    process = subprocess.Popen(
        [cli(), "start", "--unit", "all"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}{READINESS}"
    try:
        deadline = time.monotonic() + 180
        while not ready(url):
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the unit did not become ready")
            time.sleep(0.2)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def summarise(runs: list[Run]) -> dict[str, float]:
    return {
        "cpu_ms": round(statistics.median(r.cpu_seconds for r in runs) * 1000, 1),
        "peak_rss_mib": round(statistics.median(r.peak_rss_kib for r in runs) / 1024, 1),
        "wall_ms": round(statistics.median(r.wall_seconds for r in runs) * 1000, 1),
        "failures": sum(r.exit_code != 0 for r in runs),
    }


def bench(url: str, rounds: int) -> dict[str, dict[str, float]]:
    env = {**os.environ, "BACKSTAGE_HEALTHCHECK_URL": url}
    commands = {
        "cli": [cli(), "healthcheck", "--url", url],
        "script": [sys.executable, "-I", "-S", str(SCRIPT)],
    }
    runs: dict[str, list[Run]] = {name: [] for name in commands}
    # Alternate, so that a busy moment of the machine weighs on both alike.
    for _ in range(rounds):
        for name, command in commands.items():
            runs[name].append(measure(command, env))
    return {name: summarise(result) for name, result in runs.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="readiness URL of a running unit (default: start one)")
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        url = args.url or stack.enter_context(running_unit())
        figures = bench(url, args.rounds)
    cli, script = figures["cli"], figures["script"]
    print(f"{args.rounds} runs each against {url}, medians:")
    for name, row in figures.items():
        print(
            f"  {name:6} CPU {row['cpu_ms']:8.1f} ms  peak RSS {row['peak_rss_mib']:6.1f} MiB"
            f"  wall {row['wall_ms']:8.1f} ms  failures {row['failures']}"
        )
    cpu_ratio = cli["cpu_ms"] / max(script["cpu_ms"], 0.1)
    rss_ratio = cli["peak_rss_mib"] / script["peak_rss_mib"]
    print(f"  the script costs 1/{cpu_ratio:.0f} of the CLI's CPU, 1/{rss_ratio:.1f} of its memory")
    print(json.dumps({"rounds": args.rounds, **figures, "cpu_ratio": round(cpu_ratio, 1)}))


if __name__ == "__main__":
    main()
