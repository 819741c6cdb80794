"""Framework overhead and time to ready, in one run.

1. Throughput and latency of `GET /api/bench/ping` served through the whole framework
   (`create_backend()`, every default service: request log, error handling, plugin gate,
   default auth policy with a static external-access token), of the same route allowed with
   `add_auth_policy(allow="unauthenticated")`, and of a bare Litestar app with the same route
   on the same granian embedded server (ASGINL, uvloop, the options of `_server.py`). Each
   server is a subprocess pinned to one CPU, wrk is pinned to the other; `wrk -t1 -c16
   --latency`, a warm-up run each, then the targets alternately for N rounds, medians.
2. Time to ready: spawn `backstage-py start --unit all` (and a script that builds a backend
   with `create_backend()`), poll `/.backstage/health/v1/readiness` every 10 ms until 200.
   The workspace's modules are compiled to bytecode first, as the image installs them.
3. A readable summary, then one JSON line.

Run: `uv run python benchmarks/framework/bench.py` (needs wrk: `apt-get install -y wrk`).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

HERE = Path(__file__).resolve().parent
SERVER = HERE / "server.py"
HOST = "127.0.0.1"
TOKEN = "bench-static-token-0123456789"
PING = "/api/bench/ping"
PUBLIC_PING = "/api/bench/public/ping"
READINESS = "/.backstage/health/v1/readiness"
TARGET_RPS_RATIO = 0.90
TARGET_READY_S = 1.5
LOG_SETTLE_SECONDS = 0.2
SERVER_START_TIMEOUT = 60.0
CLK_TCK = os.sysconf("SC_CLK_TCK")


class BenchError(Exception):
    """A failure that ends the run with a clear message."""


# --- small helpers --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def http_get(
    port: int, path: str, headers: dict[str, str] | None = None, timeout: float = 2.0
) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def pinned(cpu: int | None) -> Callable[[], None] | None:
    if cpu is None:
        return None

    def pin() -> None:
        os.sched_setaffinity(0, {cpu})

    return pin


def tail(path: Path, limit: int = 2000) -> str:
    try:
        return path.read_text(errors="replace")[-limit:]
    except OSError:
        return ""


def process_cpu_seconds(pid: int) -> float:
    """User + system time of a process, all its threads included."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def cpu_busy_seconds(cpu: int) -> float:
    """Busy time (everything but idle and iowait) of one CPU since boot."""
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith(f"cpu{cpu} "):
            values = [int(value) for value in line.split()[1:]]
            return (sum(values[:8]) - values[3] - values[4]) / CLK_TCK
    raise BenchError(f"CPU {cpu} is not in /proc/stat")


def machine_busy_share(seconds: float = 1.0) -> float:
    """How busy all CPUs were over `seconds` while this process slept (0 to 1)."""

    def read() -> tuple[int, int]:
        values = [int(value) for value in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
        total = sum(values[:8])
        return total - values[3] - values[4], total

    busy_before, total_before = read()
    time.sleep(seconds)
    busy_after, total_after = read()
    return (busy_after - busy_before) / max(total_after - total_before, 1)


def count_lines(path: Path) -> int:
    count = 0
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            count += chunk.count(b"\n")
    return count


# --- servers --------------------------------------------------------------------------------


@dataclass
class Server:
    """A benchmark server subprocess (`server.py`), stopped by `close()`."""

    name: str
    kind: str
    cpu: int | None
    workdir: Path
    log_to_file: bool
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    _files: list[IO[bytes]] = field(default_factory=list)

    @property
    def stderr_path(self) -> Path:
        return self.workdir / f"{self.name}.stderr"

    def start(self) -> None:
        command = [sys.executable, str(SERVER), self.kind, "--port", str(self.port)]
        command += ["--token", TOKEN, "--log-level", "info"]
        if self.cpu is not None:
            command += ["--cpu", str(self.cpu)]
        stdout: IO[bytes] | int = subprocess.DEVNULL
        if self.log_to_file:
            self.log_path = self.workdir / f"{self.name}.log"
            stdout = self.log_path.open("ab")  # O_APPEND: truncating it between runs is safe
            self._files.append(stdout)
        stderr = self.stderr_path.open("wb")
        self._files.append(stderr)
        self.process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr, cwd=HERE
        )

    def wait_ready(self, path: str, headers: dict[str, str] | None = None) -> None:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                raise BenchError(
                    f"The {self.name} server exited before it was ready:\n{tail(self.stderr_path)}"
                )
            with contextlib.suppress(OSError, http.client.HTTPException):
                if http_get(self.port, path, headers)[0] == 200:
                    return
            time.sleep(0.02)
        raise BenchError(f"The {self.name} server was not ready in {SERVER_START_TIMEOUT}s")

    def cpu_seconds(self) -> float:
        assert self.process is not None
        return process_cpu_seconds(self.process.pid)

    def logged_lines(self) -> int | None:
        """Lines written since the last call; the log is emptied each time. The server
        writes its log in batches, so the last lines may land a moment after wrk is done."""
        if self.log_path is None:
            return None
        time.sleep(LOG_SETTLE_SECONDS)
        lines = count_lines(self.log_path)
        os.truncate(self.log_path, 0)
        return lines

    def close(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        for file in self._files:
            file.close()
        self._files.clear()


# --- wrk ------------------------------------------------------------------------------------

_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_PERCENTILE = re.compile(r"^\s*(50|75|90|99)%\s+([\d.]+)(us|ms|s|m|h)\s*$", re.MULTILINE)
_RPS = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)
_REQUESTS = re.compile(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m|h)", re.MULTILINE)
_NON_2XX = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_SOCKET_ERRORS = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")


@dataclass(frozen=True)
class WrkResult:
    rps: float
    requests: int
    percentiles_ms: dict[int, float]
    non_2xx: int
    socket_errors: int


def parse_wrk(output: str) -> WrkResult:
    rps = _RPS.search(output)
    requests = _REQUESTS.search(output)
    percentiles = {
        int(match[1]): float(match[2]) * _UNITS_MS[match[3]]
        for match in _PERCENTILE.finditer(output)
    }
    if rps is None or requests is None or set(percentiles) != {50, 75, 90, 99}:
        raise BenchError(f"Could not parse wrk's output:\n{output}")
    non_2xx = _NON_2XX.search(output)
    errors = _SOCKET_ERRORS.search(output)
    return WrkResult(
        rps=float(rps[1]),
        requests=int(requests[1]),
        percentiles_ms=percentiles,
        non_2xx=int(non_2xx[1]) if non_2xx else 0,
        socket_errors=sum(int(value) for value in errors.groups()) if errors else 0,
    )


def run_wrk(
    wrk: str, url: str, *, duration: int, connections: int, headers: dict[str, str], cpu: int | None
) -> WrkResult:
    command = [wrk, "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "--timeout", "5s"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    command.append(url)
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=duration + 30,
            preexec_fn=pinned(cpu),  # bench.py starts no threads
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise BenchError(
            f"wrk did not finish within {duration + 30}s: {' '.join(command)}"
        ) from None
    if done.returncode != 0:
        raise BenchError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    return parse_wrk(done.stdout)


# --- throughput -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    key: str
    label: str
    server: Server
    path: str
    headers: dict[str, str]


@dataclass
class Sample:
    wrk: WrkResult
    cpu_us_per_request: float
    server_cpu_share: float
    foreign_cpu_share: float | None
    wrk_cpu_share: float
    foreign_wrk_cpu_share: float | None
    logged_lines: int | None


@dataclass
class Options:
    duration: int
    warmup: int
    rounds: int
    connections: int
    ready_starts: int
    server_cpu: int | None
    wrk_cpu: int | None
    log_to_file: bool
    skip_throughput: bool
    skip_ready: bool


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def foreign_share(cpu: int | None, busy_before: float, own: float, elapsed: float) -> float | None:
    """The share of `cpu` that processes other than our own used during a run."""
    if cpu is None:
        return None
    return max(0.0, cpu_busy_seconds(cpu) - busy_before - own) / elapsed


def measure(wrk: str, target: Target, options: Options, duration: int) -> Sample:
    server = target.server
    cpu, wrk_cpu = options.server_cpu, options.wrk_cpu
    busy_before = cpu_busy_seconds(cpu) if cpu is not None else 0.0
    wrk_busy_before = cpu_busy_seconds(wrk_cpu) if wrk_cpu is not None else 0.0
    wrk_before = children_cpu_seconds()
    server_before = server.cpu_seconds()
    started = time.perf_counter()
    result = run_wrk(
        wrk,
        f"http://{HOST}:{server.port}{target.path}",
        duration=duration,
        connections=options.connections,
        headers=target.headers,
        cpu=options.wrk_cpu,
    )
    elapsed = time.perf_counter() - started
    server_cpu = server.cpu_seconds() - server_before
    wrk_cpu_seconds = children_cpu_seconds() - wrk_before
    if result.non_2xx or result.socket_errors:
        raise BenchError(
            f"{target.label}: {result.non_2xx} non-2xx responses and {result.socket_errors} "
            "socket errors; the benchmark only counts successful requests"
        )
    return Sample(
        wrk=result,
        cpu_us_per_request=server_cpu / max(result.requests, 1) * 1e6,
        server_cpu_share=server_cpu / elapsed,
        foreign_cpu_share=foreign_share(cpu, busy_before, server_cpu, elapsed),
        wrk_cpu_share=wrk_cpu_seconds / elapsed,
        foreign_wrk_cpu_share=foreign_share(wrk_cpu, wrk_busy_before, wrk_cpu_seconds, elapsed),
        logged_lines=server.logged_lines(),
    )


def check_routes(framework: Server, bare: Server) -> None:
    """The auth path must really be exercised: no token 401, the token 200, public 200."""
    auth = {"Authorization": f"Bearer {TOKEN}"}
    checks = [
        (framework, PING, {}, 401),
        (framework, PING, {"Authorization": "Bearer wrong-token-123"}, 401),
        (framework, PING, auth, 200),
        (framework, PUBLIC_PING, {}, 200),
        (bare, PING, {}, 200),
    ]
    for server, path, headers, expected in checks:
        status, body = http_get(server.port, path, headers)
        if status != expected:
            raise BenchError(f"{server.name} GET {path} answered {status}, expected {expected}")
        if expected == 200 and json.loads(body) != {"status": "ok", "service": "bench"}:
            raise BenchError(f"{server.name} GET {path} answered an unexpected body: {body!r}")
    framework.logged_lines()


def print_sample(target: Target, sample: Sample, prefix: str) -> None:
    p = sample.wrk.percentiles_ms
    foreign = (
        f", others {sample.foreign_cpu_share:.0%}" if sample.foreign_cpu_share is not None else ""
    )
    foreign_wrk = (
        f", others {sample.foreign_wrk_cpu_share:.0%}"
        if sample.foreign_wrk_cpu_share is not None
        else ""
    )
    logged = f", {sample.logged_lines} log lines" if sample.logged_lines is not None else ""
    print(
        f"  {prefix} {target.label:<34} {sample.wrk.rps:>9.0f} req/s  p50 {p[50]:.3f} ms"
        f"  p99 {p[99]:.3f} ms  {sample.cpu_us_per_request:.0f} us CPU/req"
        f" (CPU: server {sample.server_cpu_share:.0%}{foreign};"
        f" wrk {sample.wrk_cpu_share:.0%}{foreign_wrk}){logged}",
        flush=True,
    )
    lines = sample.logged_lines
    if lines is not None and target.server.kind == "framework" and lines < sample.wrk.requests:
        raise BenchError(
            f"{target.label}: {lines} request log lines for {sample.wrk.requests} requests; "
            "the request log is not on"
        )


def throughput(wrk: str, options: Options, workdir: Path) -> dict[str, list[Sample]]:
    framework = Server("framework", "framework", options.server_cpu, workdir, options.log_to_file)
    bare = Server("bare", "bare", options.server_cpu, workdir, log_to_file=False)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    targets = [
        Target("framework", "framework (static token)", framework, PING, auth),
        Target("framework_unauth", "framework (unauthenticated route)", framework, PUBLIC_PING, {}),
        Target("bare", "bare Litestar", bare, PING, {}),
    ]
    samples: dict[str, list[Sample]] = {target.key: [] for target in targets}
    try:
        for server in (framework, bare):
            server.start()
        framework.wait_ready(READINESS)
        bare.wait_ready(PING)
        check_routes(framework, bare)
        print(f"warm-up ({options.warmup} s each):", flush=True)
        for target in targets:
            print_sample(target, measure(wrk, target, options, options.warmup), "warm-up")
        for round_index in range(options.rounds):
            print(f"round {round_index + 1}/{options.rounds} ({options.duration} s each):")
            order = targets if round_index % 2 == 0 else targets[::-1]
            for target in order:
                sample = measure(wrk, target, options, options.duration)
                print_sample(target, sample, "      ")
                samples[target.key].append(sample)
    finally:
        framework.close()
        bare.close()
    return samples


# --- time to ready --------------------------------------------------------------------------


def time_to_ready(command: Sequence[str], port: int, stderr_path: Path, cwd: Path) -> float:
    """Seconds from spawning `command` to the first 200 of the readiness endpoint."""
    with stderr_path.open("wb") as stderr:
        started = time.perf_counter()
        process = subprocess.Popen(
            list(command), stdin=subprocess.DEVNULL, stdout=stderr, stderr=stderr, cwd=cwd
        )
        try:
            while time.perf_counter() - started < SERVER_START_TIMEOUT:
                if process.poll() is not None:
                    raise BenchError(
                        f"`{' '.join(command)}` exited with {process.returncode} before it was "
                        f"ready:\n{tail(stderr_path)}"
                    )
                with contextlib.suppress(OSError, http.client.HTTPException):
                    if http_get(port, READINESS, timeout=1.0)[0] == 200:
                        return time.perf_counter() - started
                time.sleep(0.01)
            raise BenchError(f"`{' '.join(command)}` was not ready in {SERVER_START_TIMEOUT}s")
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


def cli_config(workdir: Path, port: int) -> Path:
    path = workdir / f"app-config.bench-{port}.yaml"
    config = {
        "backend": {
            "baseUrl": f"http://{HOST}:{port}",
            "listen": {"host": HOST, "port": port},
            "logging": {"level": "warn"},
        }
    }
    path.write_text(json.dumps(config, indent=2))  # JSON is YAML
    return path


def cli_command() -> Path | None:
    script = Path(sys.executable).parent / "backstage-py"
    return script if script.exists() else None


def ready_times(
    name: str, build: Callable[[int], list[str]], starts: int, workdir: Path
) -> list[float]:
    times: list[float] = []
    for index in range(starts):
        port = free_port()
        seconds = time_to_ready(build(port), port, workdir / f"{name}-{index}.out", HERE.parents[1])
        print(f"  {name:<36} start {index + 1}/{starts}: {seconds:.3f} s", flush=True)
        times.append(seconds)
    return times


WORKSPACE_SOURCES = ("libs", "plugins", "services")
"""The workspace's packages, which `uv sync` installs as editable links to these sources."""


def compile_workspace() -> float:
    """Writes the bytecode of the workspace's own modules, as a deployed unit has it (the
    image installs them compiled, `UV_COMPILE_BYTECODE=1`); returns the seconds it took.

    An editable install has none until Python writes it on a first import, which it never
    does where `PYTHONDONTWRITEBYTECODE` is set: every start would then compile about 400
    modules from source, work no deployment does.
    """
    started = time.perf_counter()
    command = [sys.executable, "-m", "compileall", "-q", "-j", "0", *WORKSPACE_SOURCES]
    subprocess.run(command, check=True, cwd=HERE.parents[1], stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def readiness(options: Options, workdir: Path) -> dict[str, Any]:
    results: dict[str, Any] = {"ready_cli_error": None}
    results["compile_s"] = compile_workspace()

    def script(port: int) -> list[str]:
        base = [sys.executable, str(SERVER), "framework", "--port", str(port)]
        return [*base, "--log-level", "warn"]

    # A fresh interpreter that only imports what a backend needs, as a floor.
    imports = [sys.executable, "-c", "import backstage_backend_defaults, granian, uvloop"]
    started = time.perf_counter()
    subprocess.run(imports, check=True, cwd=HERE.parents[1])
    results["import_s"] = time.perf_counter() - started
    script_times = ready_times("create_backend() script", script, options.ready_starts, workdir)
    results["ready_script_s_median"] = statistics.median(script_times)
    cli = cli_command()
    if cli is None:
        results["ready_cli_error"] = f"{Path(sys.executable).parent / 'backstage-py'} not found"
        return results

    def command(port: int) -> list[str]:
        config = cli_config(workdir, port)
        return [str(cli), "start", "--unit", "all", "--config", str(config)]

    try:
        cli_times = ready_times(
            "backstage-py start --unit all", command, options.ready_starts, workdir
        )
        results["ready_cli_s_median"] = statistics.median(cli_times)
    except BenchError as error:
        results["ready_cli_error"] = str(error)
        print(f"  backstage-py start --unit all failed: {error}", flush=True)
    return results


# --- report ---------------------------------------------------------------------------------


def median_of(samples: list[Sample], pick: Callable[[Sample], float]) -> float:
    return statistics.median(pick(sample) for sample in samples)


def max_share(shares: Iterable[float | None]) -> float | None:
    known = [share for share in shares if share is not None]
    return round(max(known), 3) if known else None


def summarize(samples: dict[str, list[Sample]]) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for key, runs in samples.items():
        figures[f"{key}_rps"] = round(median_of(runs, lambda s: s.wrk.rps), 1)
        for percentile in (50, 90, 99):
            values = [sample.wrk.percentiles_ms[percentile] for sample in runs]
            figures[f"{key}_p{percentile}_ms"] = round(statistics.median(values), 3)
        figures[f"{key}_cpu_us_per_req"] = round(median_of(runs, lambda s: s.cpu_us_per_request), 1)
        figures[f"{key}_rps_runs"] = [round(sample.wrk.rps, 1) for sample in runs]
    figures["ratio_rounds"] = [
        round(fw.wrk.rps / bare.wrk.rps, 3)
        for fw, bare in zip(samples["framework"], samples["bare"], strict=True)
    ]
    bare = figures["bare_rps"]
    figures["ratio"] = round(figures["framework_rps"] / bare, 3) if bare else None
    figures["unauth_ratio"] = round(figures["framework_unauth_rps"] / bare, 3) if bare else None
    runs_all = [sample for runs in samples.values() for sample in runs]
    figures["max_foreign_load_on_server_cpu"] = max_share(s.foreign_cpu_share for s in runs_all)
    figures["max_foreign_load_on_wrk_cpu"] = max_share(s.foreign_wrk_cpu_share for s in runs_all)
    return figures


def print_summary(figures: dict[str, Any], options: Options) -> None:
    print("\nsummary")
    if not options.skip_throughput:
        print(
            f"  wrk -t1 -c{options.connections} -d{options.duration}s --latency, median of "
            f"{options.rounds} rounds, server on CPU {options.server_cpu}, wrk on CPU "
            f"{options.wrk_cpu}"
        )
        for key, label in (
            ("framework", "framework, static token"),
            ("framework_unauth", "framework, unauthenticated route"),
            ("bare", "bare Litestar"),
        ):
            print(
                f"  {label:<34} {figures[f'{key}_rps']:>9.0f} req/s  "
                f"p50 {figures[f'{key}_p50_ms']:.3f} ms  p99 {figures[f'{key}_p99_ms']:.3f} ms  "
                f"{figures[f'{key}_cpu_us_per_req']:.0f} us CPU/req"
            )
        ratio, unauth = figures["ratio"], figures["unauth_ratio"]
        verdict = "met" if ratio >= TARGET_RPS_RATIO else "NOT met"
        rounds = ", ".join(f"{value:.0%}" for value in figures["ratio_rounds"])
        print(
            f"  framework / bare: {ratio:.1%} (unauthenticated route {unauth:.1%}); "
            f"target >= {TARGET_RPS_RATIO:.0%}: {verdict}; per round: {rounds}"
        )
        for which in ("server", "wrk"):
            foreign = figures.get(f"max_foreign_load_on_{which}_cpu")
            if foreign is not None and foreign > 0.05:
                print(f"  WARNING: other processes used up to {foreign:.0%} of the {which} CPU")
    if not options.skip_ready:
        print(f"  workspace bytecode written in {figures['compile_s']:.3f} s (before the starts)")
        print(f"  python imports of a backend (one cold-ish run): {figures['import_s']:.3f} s")
        print(f"  ready, create_backend() script, median: {figures['ready_script_s_median']:.3f} s")
        if figures.get("ready_cli_s_median") is not None:
            print(
                f"  ready, backstage-py start --unit all, median: "
                f"{figures['ready_cli_s_median']:.3f} s"
            )
        else:
            print(f"  backstage-py start --unit all not measured: {figures['ready_cli_error']}")
        ready = figures["ready_s_median"]
        verdict = "met" if ready <= TARGET_READY_S else "NOT met"
        print(
            f"  time to ready ({figures['ready_source']}): {ready:.3f} s; "
            f"target <= {TARGET_READY_S} s: {verdict}"
        )


# --- main -----------------------------------------------------------------------------------


def parse_options(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run (1-120)")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of warm-up (1-60)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of runs (1-10)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections")
    parser.add_argument("--ready-starts", type=int, default=5, help="starts timed (1-20)")
    parser.add_argument("--server-cpu", type=int, default=1)
    parser.add_argument("--wrk-cpu", type=int, default=0)
    parser.add_argument("--no-pin", action="store_true", help="do not pin to CPUs")
    parser.add_argument(
        "--log",
        choices=["file", "devnull"],
        default="file",
        help="where the framework's request log goes (file: counted, then emptied per run)",
    )
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--skip-ready", action="store_true")
    args = parser.parse_args(argv)
    for name, low, high in (
        ("duration", 1, 120),
        ("warmup", 1, 60),
        ("rounds", 1, 10),
        ("connections", 1, 1024),
        ("ready_starts", 1, 20),
    ):
        if not low <= getattr(args, name) <= high:
            parser.error(f"--{name.replace('_', '-')} must be between {low} and {high}")
    server_cpu: int | None = args.server_cpu
    wrk_cpu: int | None = args.wrk_cpu
    available = os.sched_getaffinity(0)
    if args.no_pin or server_cpu not in available or wrk_cpu not in available:
        if not args.no_pin:
            print(f"CPUs {server_cpu} and {wrk_cpu} are not both available: not pinning")
        server_cpu = wrk_cpu = None
    return Options(
        duration=args.duration,
        warmup=args.warmup,
        rounds=args.rounds,
        connections=args.connections,
        ready_starts=args.ready_starts,
        server_cpu=server_cpu,
        wrk_cpu=wrk_cpu,
        log_to_file=args.log == "file",
        skip_throughput=args.skip_throughput,
        skip_ready=args.skip_ready,
    )


@contextlib.contextmanager
def workspace() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="backstage-bench-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def run(options: Options) -> dict[str, Any]:
    wrk = shutil.which("wrk")
    if wrk is None and not options.skip_throughput:
        raise BenchError("wrk is not installed: apt-get install -y wrk (or pass --skip-throughput)")
    busy = machine_busy_share()
    print(f"{os.cpu_count()} CPUs; other processes kept them {busy:.0%} busy over the last second")
    if busy > 0.1:
        print("WARNING: the machine is busy; the figures will be noisy")
    figures: dict[str, Any] = {}
    with workspace() as workdir:
        if not options.skip_throughput:
            assert wrk is not None
            figures.update(summarize(throughput(wrk, options, workdir)))
        if not options.skip_ready:
            print(f"time to ready ({options.ready_starts} starts each):", flush=True)
            figures.update(readiness(options, workdir))
            cli = figures.get("ready_cli_s_median")
            figures["ready_source"] = (
                "backstage-py start --unit all" if cli is not None else "create_backend() script"
            )
            figures["ready_s_median"] = cli if cli is not None else figures["ready_script_s_median"]
    figures.update(
        duration_s=options.duration,
        rounds=options.rounds,
        connections=options.connections,
        machine_busy_before=round(busy, 3),
    )
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(argv)
    try:
        figures = run(options)
    except BenchError as error:
        print(f"bench.py: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bench.py: interrupted", file=sys.stderr)
        return 130
    print_summary(figures, options)
    rounded = ("compile_s", "import_s", "ready_script_s_median", "ready_cli_s_median")
    for key in (*rounded, "ready_s_median"):
        if isinstance(figures.get(key), float):
            figures[key] = round(figures[key], 3)
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
